#!/bin/sh
# The alertmanager container's entrypoint (docker-compose.yml). Alertmanager expands no environment
# variables in its config, so the receivers' webhook URLs (they often carry a token) are put in place
# of the committed .invalid placeholders here, into a config in the data volume (the mount is
# read-only); then Alertmanager starts on it. `run.sh --render-only` only writes the config
# (tests/test_deploy.py).
set -eu
template=${ALERTMANAGER_TEMPLATE:-/etc/alertmanager/alertmanager.yml}
config=${ALERTMANAGER_CONFIG:-/alertmanager/alertmanager.yml}  # the data volume: writable by the image's user
for name in ALERT_PAGE_WEBHOOK_URL ALERT_TICKET_WEBHOOK_URL ALERT_CHAT_WEBHOOK_URL ALERT_VENDOR_WEBHOOK_URL; do
    eval "value=\${$name:-}"
    if [ -z "$value" ]; then
        echo "run.sh: set $name (a receiver's webhook URL)" >&2
        exit 1
    fi
done

# sed replacement text: escape the delimiter, & and backslashes (webhook URLs have & in queries)
escape() { printf '%s' "$1" | sed 's/[|&\\]/\\&/g'; }

umask 077
sed -e "s|https://page.webhook.invalid/|$(escape "$ALERT_PAGE_WEBHOOK_URL")|" \
    -e "s|https://ticket.webhook.invalid/|$(escape "$ALERT_TICKET_WEBHOOK_URL")|" \
    -e "s|https://chat.webhook.invalid/|$(escape "$ALERT_CHAT_WEBHOOK_URL")|" \
    -e "s|https://vendor.webhook.invalid/|$(escape "$ALERT_VENDOR_WEBHOOK_URL")|" \
    "$template" > "$config"
if grep -q 'webhook\.invalid' "$config"; then
    echo "run.sh: a webhook placeholder is left in $config" >&2
    exit 1
fi
if [ "${1:-}" = "--render-only" ]; then
    exit 0
fi
exec /bin/alertmanager --config.file="$config" --storage.path=/alertmanager "$@"
