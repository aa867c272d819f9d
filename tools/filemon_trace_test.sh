#!/bin/sh
# The `filemon` tracer tool end to end: options, log file, exit statuses, signals.
set -u
FILEMON=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
cd "${TEST_TMPDIR:-/tmp}" || exit 1
failures=0
check() {  # check NAME CONDITION...
  name=$1; shift
  if "$@"; then echo "ok   $name"; else echo "FAIL $name"; failures=$((failures + 1)); fi
}

"$FILEMON" --help > help.txt
check "--help exits 0" [ $? -eq 0 ]
for word in --backend= -o --format= --absolute --probes "N pid" "E pid" "F pid" "R pid" "W pid" "A pid" "C pid" \
            "D pid" "M pid" "L pid" "X pid" "V 5" "# Stop" ptrace preload ebpf kernel auto SIGTERM 125 126 \
            127; do
  check "--help explains $word" grep -q -e "$word" help.txt
done

"$FILEMON" sh -c 'echo hi > made; exit 7'
check "exit status 7 is the command's" [ $? -eq 7 ]
check "default log is filemon.out" grep -q '^W [0-9]* made$' filemon.out
check "log has the header" grep -q '^# filemon version 5$' filemon.out
check "log has the footer" sh -c 'tail -1 filemon.out | grep -q "^# Bye bye$"'

"$FILEMON" -o - sh -c 'kill -KILL $$' > stdout.txt
check "killed by SIGKILL gives 128+9" [ $? -eq 137 ]
check "-o - writes to standard output" grep -q '^X [0-9]* 0 9$' stdout.txt

"$FILEMON" -o json.txt --format=json true
check "--format=json" grep -q '"kind": "EXEC"' json.txt

"$FILEMON" -o ok.log true
check "exit status 0 is the command's" [ $? -eq 0 ]

# Every option takes its value as --name=VALUE or --name VALUE.
"$FILEMON" --backend auto --output spaced.log --format json -- sh -c 'echo x > spaced'
check "--backend/--output/--format VALUE (space) accepted" [ $? -eq 0 ]
check "--format json (space) writes JSON" grep -q '"kind": "EXEC"' spaced.log
"$FILEMON" --output=eq.log --backend=auto true
check "--output=FILE accepted" [ $? -eq 0 ] && [ -s eq.log ]

# Exit status 125: usage errors.
"$FILEMON" --no-such-option true 2> err.txt
check "bad option exits 125" [ $? -eq 125 ]
"$FILEMON" --backend=nope true 2> err.txt
check "unknown backend exits 125" [ $? -eq 125 ]
check "unknown backend is named" grep -q 'unknown backend "nope"' err.txt
"$FILEMON" --backend nope true 2> err.txt
check "unknown backend (space) exits 125" [ $? -eq 125 ]
"$FILEMON" --format=xml true 2> err.txt
check "bad --format exits 125" [ $? -eq 125 ]
"$FILEMON" -o 2> err.txt
check "-o without a value exits 125" [ $? -eq 125 ]
"$FILEMON" -o x.log 2> err.txt
check "no command exits 125" [ $? -eq 125 ]
"$FILEMON" --backend=kernel true 2> err.txt
check "unavailable backend exits 126" [ $? -eq 126 ]
check "unavailable kernel backend names /dev/filemon" grep -q "open(/dev/filemon)" err.txt
check "unavailable kernel backend suggests ptrace and preload" \
  grep -q -- "--backend=ptrace) or the preload backend (--backend=preload)" err.txt
"$FILEMON" -o log2 /nonexistent/program 2> err.txt
check "command that cannot start exits 126" [ $? -eq 126 ]
check "the error names the program" grep -q /nonexistent/program err.txt
# A descriptor limit too small for the tracer: 126, and the message names the limit, not a bare
# "Invalid argument" (preload's channel asks for a descriptor above the limit).
# ebpf only where it loads here (root, outside a sandbox that refuses bpf()).
backends="ptrace preload"
"$FILEMON" --backend=ebpf -o fd.log true 2> /dev/null && backends="$backends ebpf"
for backend in $backends; do
  ( ulimit -n 8 && exec "$FILEMON" --backend=$backend -o fd.log true ) 2> err.txt
  check "$backend under ulimit -n 8 exits 126" [ $? -eq 126 ]
  check "$backend under ulimit -n 8 names the limit" grep -q "RLIMIT_NOFILE (ulimit -n).* 8" err.txt
done
rm -f started
"$FILEMON" -o /nonexistent/dir/log -- touch started 2> err.txt
check "unwritable log exits 127" [ $? -eq 127 ]
check "unwritable log: the command is not started" [ ! -e started ]
check "unwritable log: the message names the log and why" \
  grep -q "cannot open the log /nonexistent/dir/log: No such file or directory" err.txt

# Exit status 127 when the reader of -o - went away: filemon neither dies of SIGPIPE nor takes
# the command down with it; the command runs to its end, and the message says why.
rm -f finished
( "$FILEMON" -o - -- sh -c 'i=0; while [ $i -lt 5000 ]; do : < /dev/null; i=$((i + 1)); done
                          echo yes > finished' 2> pipe_err.txt
  echo $? > pipe_status ) | true
check "closed pipe of -o - exits 127" [ "$(cat pipe_status)" = 127 ]
check "closed pipe: the command finished" [ -s finished ]
check "closed pipe: the message says so" grep -q "cannot write the log -: .*Broken pipe" pipe_err.txt

# kill -9 of filemon: the log already has the header and the records made before the kill
# (at most ~100 ms of records stay in filemon's memory), under each backend.
# The kill comes 500 ms after the command made its record (waited for, so that a busy machine
# that is slow to start the command does not fail the test).
for backend in ptrace preload; do
  rm -f killed.log before_kill
  "$FILEMON" --backend=$backend -o killed.log sh -c 'echo x > before_kill; : < /dev/null; sleep 3' >/dev/null 2>&1 &
  tracer=$!
  i=0; while [ ! -s before_kill ] && [ $i -lt 400 ]; do sleep 0.05; i=$((i + 1)); done
  sleep 0.5
  kill -KILL $tracer
  wait $tracer 2>/dev/null
  check "kill -9 ($backend): the log has the header" grep -q '^# filemon version 5$' killed.log
  check "kill -9 ($backend): the log has the records before the kill" \
    grep -q '^W [0-9]* before_kill$' killed.log
done

# SIGTERM to the tracer reaches the command; the log is still complete.
rm -f ready
"$FILEMON" -o term.log sh -c 'trap "echo got > got; exit 3" TERM; echo x > ready; while :; do sleep 0.05; done' &
tracer=$!
i=0; while [ ! -s ready ] && [ $i -lt 400 ]; do sleep 0.05; i=$((i + 1)); done
kill -TERM $tracer
wait $tracer
check "SIGTERM passed on: the command's trap ran" [ $? -eq 3 ]
check "SIGTERM: the log has the trap's write" grep -q '^W [0-9]* got$' term.log
check "SIGTERM: the log still has its footer" sh -c 'tail -1 term.log | grep -q "^# Bye bye$"'

# Waits (up to 20 s) until FILE is non-empty.
wait_for() {
  i=0; while [ ! -s "$1" ] && [ $i -lt 400 ]; do sleep 0.05; i=$((i + 1)); done
}
# Milliseconds since the epoch.
now_ms() { echo $(( $(date +%s%N) / 1000000 )); }

# SIGTERM to filemon once the command has exited and only what it left runs (a background
# sleep): passed to that tree, the log completed (X of the sleep, footer), exit 128+15, at once.
for backend in ptrace preload auto; do
  rm -f orphan.log shell_pid sleep_pid
  "$FILEMON" --backend=$backend -o orphan.log -- \
    sh -c 'sleep 30 & echo $! > sleep_pid; echo $$ > shell_pid; exit 0' &
  tracer=$!
  wait_for shell_pid
  wait_for sleep_pid
  i=0; while [ -e /proc/"$(cat shell_pid)" ] && [ $i -lt 400 ]; do sleep 0.05; i=$((i + 1)); done
  sleep 0.2  # the tracer has seen the command's exit
  start=$(now_ms)
  kill -TERM $tracer
  wait $tracer
  status=$?
  took=$(( $(now_ms) - start ))
  check "$backend: SIGTERM after the command exited: exit 143 (got $status)" [ $status -eq 143 ]
  check "$backend: SIGTERM after the command exited: within 5 s (took $took ms)" [ $took -lt 5000 ]
  check "$backend: SIGTERM after the command exited: X for the sleep" \
    grep -q "^X $(cat sleep_pid) 0 15$" orphan.log
  check "$backend: SIGTERM after the command exited: footer" \
    sh -c 'tail -1 orphan.log | grep -q "^# Bye bye$"'
done

# ^C: filemon in its own process group, the whole group gets SIGINT (as from a terminal); the
# command traps it. The trap runs, its status is filemon's, every process has its X. (A
# background job of a script starts with SIGINT ignored: env gives it the default back.)
for backend in ptrace preload auto; do
  rm -f int.log trapped shell_pid
  env --default-signal=INT setsid "$FILEMON" --backend=$backend -o int.log -- \
    sh -c 'trap "echo trapped > trapped; exit 130" INT; echo $$ > shell_pid; sleep 30' &
  tracer=$!
  wait_for shell_pid
  sleep 0.2  # the shell waits for sleep
  kill -INT -$tracer
  wait $tracer
  status=$?
  check "$backend: ^C to the group: exit 130 (got $status)" [ $status -eq 130 ]
  check "$backend: ^C to the group: the trap ran" [ -s trapped ]
  check "$backend: ^C to the group: an X for every process" \
    [ "$(grep -c '^X ' int.log)" -eq "$(( $(grep -c '^F ' int.log) + 1 ))" ]
  check "$backend: ^C to the group: footer" sh -c 'tail -1 int.log | grep -q "^# Bye bye$"'
done

# --probes: N lines under every Linux backend; without it no N line.
for backend in ptrace preload auto; do
  "$FILEMON" --backend=$backend --probes -o probes.log -- sh -c 'cat no_such_file 2>/dev/null; :'
  check "--probes ($backend): N for the file cat did not find" \
    grep -q "^N [0-9]* no_such_file$" probes.log
  check "--probes ($backend): no fallback note" sh -c '! grep -q "^# auto: .*probes" probes.log'
  "$FILEMON" --backend=$backend -o noprobes.log -- sh -c 'cat no_such_file 2>/dev/null; :'
  check "no --probes ($backend): no N line" sh -c '! grep -q "^N " noprobes.log'
done

# A terminal hangup when filemon is the session leader (a tmux pane, `ssh host filemon ...`,
# setsid): the kernel sends SIGHUP to the session leader alone, so filemon must pass it on
# although it comes from the kernel. A pty made with python3 plays the terminal.
if command -v python3 > /dev/null; then
  for backend in ptrace preload; do
    rm -f hup.log
    python3 -c '
import os, pty, sys, time
pid, fd = pty.fork()
if pid == 0:
    os.execv(sys.argv[1], sys.argv[1:])
def started():  # the command runs: its E is in the log
    try:
        return any(line.startswith("E ") for line in open("hup.log"))
    except OSError:
        return False
for _ in range(200):
    if started():
        break
    time.sleep(0.05)
os.close(fd)  # the hangup
for _ in range(200):
    p, status = os.waitpid(pid, os.WNOHANG)
    if p == pid:
        sys.exit(128 + os.WTERMSIG(status) if os.WIFSIGNALED(status) else os.WEXITSTATUS(status))
    time.sleep(0.05)
os.kill(pid, 9)
os.waitpid(pid, 0)
sys.exit(99)
' "$FILEMON" --backend=$backend -o hup.log -- sleep 30
    status=$?
    check "$backend: hangup of filemon as session leader: exit 129 (got $status)" [ $status -eq 129 ]
    check "$backend: hangup: sleep's X says SIGHUP" grep -q '^X [0-9]* 0 1$' hup.log
    check "$backend: hangup: footer" sh -c 'tail -1 hup.log | grep -q "^# Bye bye$"'
  done
fi

[ $failures -eq 0 ] || { echo "$failures check(s) failed"; exit 1; }
