/**
 * Attack scenarios from Falco's event-generator suite (../shared/reference/falco/evtgen_suite)
 * that a container can perform, as commands for the busybox test image (setup part
 * 65-bpftrace.sh). Commands use full paths so busybox's shell execs the applet (comm = its
 * name) instead of re-running itself as /proc/self/exe. Perl (the host's, bind-mounted at
 * /usr) makes the syscalls busybox has no applet for.
 */
export interface Scenario {
  name: string;
  /** The evtgen_suite file the scenario comes from. */
  suite: string;
  rule: string;
  cmd: string[];
  podmanArgs?: string[];
  /** output_fields the alert must carry. */
  fields?: Record<string, string | number | boolean>;
}

const sh = (script: string) => ['/bin/sh', '-c', script];
const perl = (script: string) => ['/usr/bin/perl', '-e', script];
const WITH_PERL = ['-v', '/usr:/usr:ro'];

const MEMFD_EXEC = `
my $n = "eg_memfd"; my $fd = syscall(319, $n, 0); die "memfd: $!" if $fd < 0;
open(my $out, ">&=", $fd) or die "fdopen: $!";
open(my $in, "<", "/bin/busybox") or die "open: $!";
binmode $in; binmode $out; my $data = do { local $/; <$in> };
print {$out} $data; $out->flush;
exec {"/proc/self/fd/$fd"} "true" or die "exec: $!";`;

const PTRACE_ATTACH = `
my $pid = fork(); if ($pid == 0) { sleep 2; exit 0 }
select(undef, undef, undef, 0.2);
syscall(101, 16, $pid, 0, 0); waitpid($pid, 0);`;

export const SCENARIOS: Scenario[] = [
  { name: 'read-shadow', suite: 'read_sensitive_file_untrusted.yaml', rule: 'Read sensitive file untrusted',
    cmd: sh('/bin/cat /etc/shadow >/dev/null; cd /etc && /bin/sleep 0.5; /bin/true; cd /tmp && echo x > gh-relative && /bin/sleep 1'), fields: { 'fd.name': '/etc/shadow', 'proc.name': 'cat', 'proc.pname': 'sh' } },
  { name: 'dir-traversal', suite: 'directory_traversal_monitored_file_read.yaml', rule: 'Directory traversal monitored file read',
    cmd: ['/bin/cat', '/etc/../etc/../etc/shadow'], fields: { 'fd.name': '/etc/shadow', 'fd.nameraw': '/etc/../etc/../etc/shadow' } },
  { name: 'clear-log', suite: 'clear_log_activities.yaml', rule: 'Clear Log Activities',
    cmd: sh(': > /var/log/syslog'), fields: { 'fd.name': '/var/log/syslog', 'proc.name': 'sh' } },
  { name: 'symlink-shadow', suite: 'create_symlink_over_sensitive_files.yaml', rule: 'Create Symlink Over Sensitive Files',
    cmd: sh('/bin/ln -s /etc/shadow /tmp/eg_symlink_sensitive'), fields: { 'evt.arg.target': '/etc/shadow', 'evt.arg.linkpath': '/tmp/eg_symlink_sensitive', 'proc.name': 'ln' } },
  { name: 'hardlink-shadow', suite: 'create_hardlink_over_sensitive_files.yaml', rule: 'Create Hardlink Over Sensitive Files',
    cmd: sh('/bin/ln /etc/shadow /root/eg_hardlink'), fields: { 'evt.arg.oldpath': '/etc/shadow', 'evt.arg.newpath': '/root/eg_hardlink' } },
  { name: 'netcat-exec', suite: 'netcat_remote_code_execution_in_container.yaml', rule: 'Netcat Remote Code Execution in Container',
    cmd: sh('/bin/nc -l -p 9999 >/dev/null & /bin/sleep 0.3; /bin/nc 127.0.0.1 9999 -e /bin/true; wait'), fields: { 'proc.name': 'nc', 'proc.cmdline': 'nc 127.0.0.1 9999 -e /bin/true' } },
  { name: 'redirect-stdio', suite: 'redirect_stdout_stdin_to_network_connection_in_container.yaml', rule: 'Redirect STDOUT/STDIN to Network Connection in Container',
    cmd: sh('/bin/nc -l -p 9998 >/dev/null & /bin/sleep 0.3; /bin/nc 127.0.0.1 9998 -e /bin/true; wait'), fields: { 'proc.name': 'nc', 'fd.type': 'ipv4', 'fd.l4proto': 'tcp', 'fd.sip': '127.0.0.1' } },
  { name: 'dev-shm', suite: 'execution_from_dev_shm.yaml', rule: 'Execution from /dev/shm',
    cmd: sh('/bin/sh -c /dev/shm/evil; true'), fields: { 'proc.name': 'sh', 'proc.cmdline': 'sh -c /dev/shm/evil' } },
  { name: 'drop-exec', suite: 'drop_and_execute_new_binary_in_container.yaml', rule: 'Drop and execute new binary in container',
    cmd: sh('/bin/cp /bin/busybox /tmp/eg_dropped && /tmp/eg_dropped true; true'), fields: { 'proc.name': 'eg_dropped', 'proc.exepath': '/tmp/eg_dropped' } },
  { name: 'memfd-exec', suite: 'fileless_execution_via_memfd_create.yaml', rule: 'Fileless execution via memfd_create',
    cmd: perl(MEMFD_EXEC), podmanArgs: WITH_PERL, fields: { 'evt.arg.flags': 'EXE_WRITABLE|EXE_FROM_MEMFD', 'proc.exepath': 'memfd:eg_memfd' } },
  { name: 'ptrace-attach', suite: '(PTRACE attached to process, stable rules)', rule: 'PTRACE attached to process',
    cmd: perl(PTRACE_ATTACH), podmanArgs: WITH_PERL, fields: { 'proc.name': 'perl' } },
  { name: 'ptrace-traceme', suite: '(PTRACE anti-debug attempt, stable rules)', rule: 'PTRACE anti-debug attempt',
    cmd: perl('syscall(101, 0, 0, 0, 0);'), podmanArgs: WITH_PERL, fields: { 'proc.name': 'perl' } },
  { name: 'packet-socket', suite: 'packet_socket_created_in_container.yaml', rule: 'Packet socket created in container',
    cmd: perl('socket(my $s, 17, 3, 0);'), podmanArgs: WITH_PERL, fields: { 'proc.name': 'perl' } },
  { name: 'search-keys', suite: 'search_private_keys_or_passwords.yaml', rule: 'Search Private Keys or Passwords',
    cmd: sh('/bin/grep -r "BEGIN RSA PRIVATE" /etc; true'), fields: { 'proc.name': 'grep' } },
  { name: 'find-aws', suite: 'find_aws_credentials.yaml', rule: 'Find AWS Credentials',
    cmd: sh('/bin/find /root -path /root/.aws/credentials; true'), fields: { 'proc.name': 'find' } },
  { name: 'remove-bulk', suite: 'remove_bulk_data_from_disk.yaml', rule: 'Remove Bulk Data from Disk',
    cmd: sh('/bin/echo x > /tmp/victim; /bin/shred -u /tmp/victim'), fields: { 'proc.name': 'shred' } },
  { name: 'shell-untrusted', suite: 'run_shell_untrusted.yaml', rule: 'Run shell untrusted',
    // a process named nginx (a copy of busybox run as its sh applet) spawns a shell
    cmd: ['/bin/sh', '-c', '/bin/cp /bin/busybox /tmp/nginx && /usr/bin/perl -e \'exec {"/tmp/nginx"} "sh", "-c", "/bin/sh -c /bin/true; /bin/true"\''],
    podmanArgs: WITH_PERL, fields: { 'proc.name': 'sh', 'proc.pname': 'nginx' } },
  { name: 'release-agent', suite: 'detect_release_agent_file_container_escapes.yaml', rule: 'Detect release_agent File Container Escapes',
    cmd: sh('/bin/echo x > /tmp/release_agent'), podmanArgs: ['--privileged'], fields: { 'fd.name': '/tmp/release_agent', 'user.name': 'root' } },
  { name: 'debugfs-privileged', suite: 'debugfs_launched_in_privileged_container.yaml', rule: 'Debugfs Launched in Privileged Container',
    cmd: sh('/bin/cp /bin/busybox /tmp/debugfs && /tmp/debugfs true; true'), podmanArgs: ['--privileged'], fields: { 'proc.name': 'debugfs' } },
  { name: 'module-load', suite: '(Linux Kernel Module Injection Detected, stable rules)', rule: 'Linux Kernel Module Injection Detected',
    cmd: perl('my $m = "x" x 64; my $o = ""; syscall(175, $m, 64, $o);'), podmanArgs: [...WITH_PERL, '--privileged'], fields: { 'proc.name': 'perl' } },
  { name: 'terminal-shell', suite: '(Terminal shell in container, stable rules)', rule: 'Terminal shell in container',
    cmd: ['/bin/sh', '-c', '/bin/true'], podmanArgs: ['-t'], fields: { 'proc.name': 'sh' } },
];

/** Benign work: must fire no rule at all. */
export const BENIGN: string[] = sh('/bin/echo hello >/dev/null; /bin/ls / >/dev/null; /bin/cat /etc/passwd >/dev/null; /bin/mkdir -p /tmp/work && /bin/echo data > /tmp/work/file && /bin/rm -r /tmp/work; /bin/sleep 0.2');
