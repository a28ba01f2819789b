#!/bin/sh
# run-tests.sh - build libexitleft and run the whole test suite:
#   1. gcc, warnings as errors: every test (unit, stress, ABI and install checks, examples);
#   2. the protocol's model checked by spin, and the API fuzzed by libFuzzer;
#   3. the unit tests and the demo again under valgrind memcheck (leaks are errors);
#   4. clang with ThreadSanitizer: unit, stress, examples, the UDP and TFTP servers;
#   5. clang with AddressSanitizer and UndefinedBehaviorSanitizer: unit, stress, examples,
#      the TFTP server;
#   6. gcc's ThreadSanitizer, valgrind's helgrind and drd on the threaded tests;
#   7. distribution: the Debian source and binary packages (built from a clean clone, tested,
#      lintian clean), the same packages installed (autopkgtest, then installed and purged)
#      and the meson dist tarball (built and tested from itself), each counted as one test.
# Ends with one line "tests: N passed, N failed" and exits non-zero on any failure.
#
# Each step prints its tests as they are counted; a step still running says so every 50 s.
# A failing step prints its failing tests and their first failure lines, then where its
# full output is (on a terminal), or that output itself (otherwise, as in CI).
set -eu
cd "$(dirname "$0")/.."
# shellcheck source=scripts/deps.sh
. scripts/deps.sh
need_packages meson ninja-build pkg-config gcc g++ clang libclang-rt-14-dev libc6-dev \
	uthash-dev libcmocka-dev valgrind binutils python3 socat abigail-tools mandoc \
	groff-base build-essential debhelper dh-python lintian pkgconf git spin libuv1-dev \
	rustc cargo mypy dpkg-dev autopkgtest python3-all \
	tftp-hpa atftp curl nftables iproute2 libwrap0 libpcre2-8-0 memcached
# The Node binding: Node.js and npm (this machine's, or Debian's), koffi from the npm registry
# as bindings/node/package-lock.json pins it.
command -v node >/dev/null && command -v npm >/dev/null || need_packages nodejs npm
echo "npm ci in bindings/node"
(cd bindings/node && npm ci --no-audit --no-fund --loglevel=error >/dev/null)

status=0
logs=
# The lines that show progress in a step's output: meson's line per test, the model's line
# per configuration, the fuzzer's summary.
progress='^ *[0-9]+/[0-9]+ |^model|^fuzz[-a-z]*:'

# ticking NAME OUT CMD...: runs CMD with its output in OUT. Every 50 s while it runs, prints
# how long it has been running and the last progress line of OUT (a test counted, a model
# configuration checked). The ticker stops when CMD ends, or within a second of this script.
ticking() {
	tick_name=$1 tick_out=$2
	shift 2
	tick_start=$(date +%s)
	(
		next=50
		while kill -0 "$$" 2>/dev/null; do
			sleep 1 >/dev/null 2>&1
			secs=$(($(date +%s) - tick_start))
			[ "$secs" -ge "$next" ] || continue
			next=$((next + 50))
			last=$(grep -E "$progress" "$tick_out" 2>/dev/null | grep -v ' RUNNING' |
				tail -n 1 | tr -s ' ' | sed 's/^ //' | cut -c 1-80)
			echo "   ... still running $tick_name (${secs} s)${last:+; last: $last}"
		done
	) &
	tick_pid=$!
	tick_rc=0
	"$@" >"$tick_out" 2>&1 || tick_rc=$?
	kill "$tick_pid" 2>/dev/null || true
	wait "$tick_pid" 2>/dev/null || true
	return "$tick_rc"
}

# failure_report OUT: each failing test and its first failure lines (cmocka's failed
# assertion, a script's FAIL line, the first report of valgrind or a sanitizer with the two
# lines that say where; failing all of these, the last lines of its output), then where the
# full output is (on a terminal) or the full output itself (otherwise, as in CI).
failure_report() {
	out=$1
	meson_line='^ *[0-9]+/[0-9]+ .* (OK|SKIP|FAIL|ERROR|TIMEOUT|EXPECTEDFAIL|UNEXPECTEDPASS) '
	whole=1
	grep -qE "$meson_line" "$out" && whole=0
	echo "   FAILED:"
	awk -v whole="$whole" -v meson_line="$meson_line" '
	function flush() {
		if (failing && n == 0)
			for (i = 1; i <= k; i++) print "       " last[i]
		failing = 0
	}
	function show(line) {
		if (!(line in shown)) { shown[line] = 1; print "       " substr(line, 1, 150); n++ }
	}
	BEGIN { failing = whole }
	/^Summary of Failures/ { exit }
	$0 ~ meson_line {
		flush()
		if ($0 ~ / (FAIL|ERROR|TIMEOUT|UNEXPECTEDPASS) /) {
			gsub(/  +/, " ")
			print "    " $0
			failing = 1; n = 0; k = 0; ctx = 0; report = 0; split("", shown)
		}
		next
	}
	!failing || /^(>>> |stdout:|stderr:|ninja: |――)/ || /^[ =0-9]*$/ { next }
	ctx > 0 { ctx--; show($0); next }
	/^==[0-9]+== ?[A-Z0-9]|^(WARNING|ERROR): [A-Za-z]+Sanitizer|runtime error:/ {
		if (!report++ && n < 8) { show($0); ctx = 2 }
		next
	}
	/\[ +(FAILED|ERROR|LINE) +\]|^(ERROR|FAIL)|[Aa]ssertion|FAILED/ {
		if ($0 !~ /listed below|FAILED TEST\(S\)/ && n < 8) show($0)
		next
	}
	{
		if (k == 3) { last[1] = last[2]; last[2] = last[3]; k = 2 }
		last[++k] = substr($0, 1, 150)
	}
	END { flush() }
	' "$out"
	if [ -t 1 ]; then
		echo "   full output: $out ($(wc -l <"$out") lines)"
	else
		echo "   full output ($out):"
		cat "$out"
	fi
}

run() {	# run NAME BUILDDIR [meson test options...]
	name=$1 dir=$2
	shift 2
	echo "== $name"
	if ticking "$name" "$dir/$name.out" meson test -C "$dir" --print-errorlogs \
		--num-processes 2 "$@" --logbase "$name"; then
		grep -E "$progress" "$dir/$name.out" | grep -v -e ' RUNNING' -e 'still searching' ||
			true
	else
		status=1
		failure_report "$dir/$name.out"
	fi
	logs="$logs $dir/meson-logs/$name"	# meson adds "-valgrind" to a --wrap run's name
}

setup_build build -Dwerror=true -Dbuildtype=debugoptimized
ninja -C build >/dev/null
run plain build
# spin on the protocol's model, with a bitstate search of the whole model
# (EXITLEFT_MODEL_DEEP=1) stopped after 2 minutes (the exhaustive runs take the rest of the
# step's time), and the API fuzzed for EXITLEFT_FUZZ_SECONDS (60 s). Verbose, so
# that each model configuration's line reaches the ticker as soon as it is checked. The
# soak is not run here: meson test -C build --suite soak.
EXITLEFT_MODEL_DEEP=1 EXITLEFT_MODEL_DEEP_MINUTES=2 run model build --verbose --suite model --suite fuzz
# exitleft-tftpd against tftp-hpa, atftp and curl, loss and a firewall in network namespaces
# of its own, crafted packets (the peer servers are taken out of their Debian packages).
run tftp build --suite tftp

run valgrind build --suite unit --suite examples --timeout-multiplier 4 \
	--wrap='valgrind -q --error-exitcode=1 --leak-check=full --show-leak-kinds=definite,indirect,possible --errors-for-leak-kinds=definite,indirect,possible'

# Sanitizer runtimes are not linked into the library itself, so shared objects may be left
# with undefined symbols: b_lundef=false.
CC=clang setup_build build-tsan -Dwerror=true -Db_sanitize=thread -Db_lundef=false
ninja -C build-tsan >/dev/null
TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1 \
	run tsan build-tsan --suite unit --suite stress --suite examples --timeout-multiplier 4
# The UDP server's scenarios too, but four: shutdown-valgrind runs valgrind, which cannot run
# a ThreadSanitizer binary; mailbox-flood bounds the server's memory at 8 MiB, which the
# sanitizer's own shadow memory exceeds; join-leave and slow-peer check times, which the
# sanitizer's slowdown would make a matter of chance.
udp_tsan=$(meson test -C build-tsan --list --suite udp 2>/dev/null | sed -n 's|^exitleft:udp / ||p' |
	grep -v -x -e udp-shutdown-valgrind -e udp-mailbox-flood -e udp-join-leave \
		-e udp-slow-peer | tr '\n' ' ')
# Named so that no other step's name is its prefix: the summary finds a step's log as NAME.json
# or NAME-*.json (valgrind's wrapped runs add a suffix).
# shellcheck disable=SC2086
TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1 \
	run udp-tsan build-tsan --timeout-multiplier 4 $udp_tsan
# exitleft-tftpd's crafted packets, 64 concurrent tftp-hpa downloads and a tftp-hpa session
# (loopback, no namespace): the server's threads and crew under the sanitizer.
tftp_sanitized='--suite tftp tftp-protocol tftp-concurrent-64 tftp-session-tftp-hpa'
# shellcheck disable=SC2086
TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1 \
	run tftp-tsan build-tsan --timeout-multiplier 4 $tftp_sanitized

CC=clang setup_build build-asan -Dwerror=true -Db_sanitize=address,undefined -Db_lundef=false
ninja -C build-asan >/dev/null
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
	run asan build-asan --suite unit --suite stress --suite examples --timeout-multiplier 4
# shellcheck disable=SC2086
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
	run tftp-asan build-asan --timeout-multiplier 4 $tftp_sanitized

# gcc's ThreadSanitizer as well as clang's.
CC=gcc setup_build build-tsan-gcc -Dwerror=true -Db_sanitize=thread -Db_lundef=false
ninja -C build-tsan-gcc >/dev/null
TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1 \
	run tsan-gcc build-tsan-gcc --suite unit --suite stress --timeout-multiplier 4

# helgrind and drd on every threaded test, the stress with smaller counts (it is bounded in
# time, so it just does less). tests/valgrind-threads.supp says why each suppression is
# right. test_cancel and the cancel stress are left out: neither tool sees glibc retake the
# mutex when a cancelled condvar wait runs its cleanup handler, so both would report the
# handler's locked accesses as unlocked; the TSan runs cover cancellation.
threaded_tests='tokens handoff notify timeout close mailbox lifetime pending spurious stress stress-spurious'
for tool in helgrind drd; do
	# shellcheck disable=SC2086
	EXITLEFT_STRESS_MS=2000 EXITLEFT_STRESS_THREADS=6 EXITLEFT_CANCEL_ROUNDS=0 \
		run "$tool" build --timeout-multiplier 10 $threaded_tests \
		--wrap="valgrind --tool=$tool -q --error-exitcode=1 \
			--suppressions=$PWD/tests/valgrind-threads.supp"
done

# Checks that are not meson tests, each counted as one test.
# step NAME SCRIPT [ARGS...]: runs the script, shows its last line (or what failed in it),
# and records its result as a one-line meson-style JSON log for the summary below. Exit 77
# is a skip: reported, not counted.
step() {
	name=$1 script=$2
	shift 2
	echo "== $name"
	mkdir -p build/steps
	start=$(date +%s)
	rc=0
	ticking "$name" "build/steps/$name.out" sh "$script" "$@" || rc=$?
	secs=$(($(date +%s) - start))
	case $rc in
	0)	echo "   $name OK ${secs}s: $(tail -n 1 "build/steps/$name.out")"
		echo '{"name": "'"$name"'", "result": "OK"}' >"build/steps/$name.json" ;;
	77)	echo "   $name SKIP: $(tail -n 1 "build/steps/$name.out")"
		return 0 ;;
	*)	status=1
		echo "   $name FAIL ${secs}s"
		failure_report "build/steps/$name.out"
		echo '{"name": "'"$name"'", "result": "FAIL"}' >"build/steps/$name.json" ;;
	esac
	logs="$logs build/steps/$name"
}
# The source package and its .debs from a clean clone, linted, left in build/debian for
# autopkgtest, which installs them system-wide and purges them at the end.
step debian scripts/check-debian.sh build/debian
step autopkgtest scripts/check-autopkgtest.sh build/debian
step dist scripts/check-dist.sh		# meson dist from a scratch clone of HEAD

# shellcheck disable=SC2086
python3 - $logs <<'PY'
import glob, json, sys
passed = failed = 0
for base in sys.argv[1:]:
    paths = glob.glob(base + ".json") + glob.glob(base + "-*.json")
    if len(paths) != 1:
        print(f"no single test log for {base}: {paths}")
        failed += 1
        continue
    for line in open(paths[0]).read().splitlines():
        result = json.loads(line)["result"]
        if result == "OK":
            passed += 1
        else:
            failed += 1
print(f"tests: {passed} passed, {failed} failed")
sys.exit(failed > 0 or passed == 0)
PY
exit $status
