"""Everything with side effects: calendar data, the engine run, the read model, archives."""
