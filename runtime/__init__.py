"""What every process shares: typed settings, the Temporal connection with its one data converter,
the payload codec that encrypts personal data, and a clean exit once Temporal has stopped.

Not here: opening a request (clients/opening.py), replaying and decoding histories
(clients/history.py), reading the read model (api/, store/)."""
