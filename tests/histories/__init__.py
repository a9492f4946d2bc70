"""The replay corpus. Its payloads are encrypted with this TEST-ONLY key, public on purpose."""

import base64

TEST_KEYS_SETTING = "test-k1:dGVzdC1vbmx5LWtleS1ub3QtYS1zZWNyZXQtMzJieXQ="
TEST_KEYS = [("test-k1", base64.b64decode(TEST_KEYS_SETTING.split(":", 1)[1]))]
