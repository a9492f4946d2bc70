"""The TEST-ONLY payload key, public on purpose: the replay corpus (tests/histories) is encrypted with it,
and every stack the tests and benches start uses it."""

import base64

TEST_KEYS_SETTING = "test-k1:dGVzdC1vbmx5LWtleS1ub3QtYS1zZWNyZXQtMzJieXQ="
TEST_KEYS = [("test-k1", base64.b64decode(TEST_KEYS_SETTING.split(":", 1)[1]))]
