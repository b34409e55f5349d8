# A Distribution registry (Debian's docker-registry) on 127.0.0.1, anonymous, for the tests.
source .ci/env.sh
if ! curl -sf "http://$GATEHOUSE_TEST_REGISTRY/v2/" >/dev/null 2>&1; then
  mkdir -p "$GATEHOUSE_TEST_CACHE/registry-data"
  cat > "$GATEHOUSE_TEST_CACHE/registry.yml" <<CONF
version: 0.1
log: { level: warn }
storage:
  filesystem: { rootdirectory: $GATEHOUSE_TEST_CACHE/registry-data }
  delete: { enabled: true }
http: { addr: $GATEHOUSE_TEST_REGISTRY }
CONF
  setsid nohup docker-registry serve "$GATEHOUSE_TEST_CACHE/registry.yml" \
    >/tmp/gatehouse-registry.log 2>&1 < /dev/null &
  wait_for curl -sf "http://$GATEHOUSE_TEST_REGISTRY/v2/"
fi
