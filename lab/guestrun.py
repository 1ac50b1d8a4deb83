#!/usr/bin/env python3
"""Runs the lab's command list in a QEMU guest or natively, and brings every
command's stdout, stderr and exit status back whole.

  guestrun.py commands KERNEL_DIR|- TESTS_DIR|- > commands.tsv
  guestrun.py boot --qemu-args FILE --out DIR [--stall S]
  guestrun.py native --commands TSV --path DIR --out DIR

Results: DIR/<name>.stdout, .stderr, .status ("STATUS SECONDS TIMED_OUT"),
DIR/run.json (how the run ended). Standard library only.
"""

import argparse
import base64
import hashlib
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time

NAME = re.compile(r"^[A-Za-z0-9_:-]+$")


def fail(message, code=2):
    print(f"guestrun: {message}", file=sys.stderr)
    sys.exit(code)


def parse_command_file(path):
    """Lines of `name timeout expectations command...`; '#' comments."""
    commands = []
    with open(path, encoding="utf-8") as f:
        for number, line in enumerate(f, 1):
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            fields = line.split(None, 3)
            if len(fields) < 4 or not NAME.match(fields[0]) or not fields[1].isdigit():
                fail(f"{path}:{number}: expected `name timeout expectations command`, got {line!r}")
            commands.append({"name": fields[0], "timeout": int(fields[1]),
                             "expect": fields[2], "command": fields[3]})
    return commands


def command_list(lab_dir, kernel_dir, tests_dir):
    """The base commands, the kernel's `checks` (as extra:NAME) and its test
    programs (as test:NAME), with LAB_TIMEOUT_SCALE applied."""
    scale = float(os.environ.get("LAB_TIMEOUT_SCALE", "1"))
    commands = []
    if os.environ.get("LAB_BASE_COMMANDS", "yes") != "no":
        commands = parse_command_file(os.path.join(lab_dir, "commands"))
    if kernel_dir != "-":
        checks = os.path.join(kernel_dir, "checks")
        if os.path.exists(checks):
            for c in parse_command_file(checks):
                c["name"] = "extra:" + c["name"]
                commands.append(c)
    if tests_dir != "-" and os.path.isdir(tests_dir):
        limit = int(os.environ.get("LAB_TEST_TIMEOUT", "300"))
        for program in sorted(os.listdir(tests_dir)):
            commands.append({"name": "test:" + program, "timeout": limit, "expect": "exit=0",
                             "command": "/lab/tests/" + program})
    names = [c["name"] for c in commands]
    if len(set(names)) != len(names):
        fail(f"duplicate command names in {names}")
    for c in commands:
        c["timeout"] = max(1, int(c["timeout"] * scale))
    return commands


def write_status(out, name, status, seconds, timed_out):
    with open(os.path.join(out, name + ".status"), "w") as f:
        f.write(f"{status} {seconds} {'yes' if timed_out else 'no'}\n")


def run_native(commands, path, out):
    env = dict(os.environ, PATH=path + os.pathsep + os.environ.get("PATH", ""))
    for c in commands:
        name = c["name"]
        print(f"lab: host: {name}", file=sys.stderr, flush=True)
        start = time.monotonic()
        proc = subprocess.Popen(["sh", "-c", c["command"]], stdin=subprocess.DEVNULL,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env,
                                start_new_session=True)
        timed_out = False
        try:
            stdout, stderr = proc.communicate(timeout=c["timeout"])
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            stdout, stderr = proc.communicate()
            timed_out = True
        seconds = int(time.monotonic() - start)
        for stream, data in (("stdout", stdout), ("stderr", stderr)):
            with open(os.path.join(out, f"{name}.{stream}"), "wb") as f:
                f.write(data)
        write_status(out, name, proc.returncode if proc.returncode >= 0 else 128 - proc.returncode,
                     seconds, timed_out)
    with open(os.path.join(out, "run.json"), "w") as f:
        json.dump({"outcome": "completed", "detail": "ran natively"}, f)


class FrameDecoder:
    """Decodes the @@LAB-BEGIN/@@LAB-END frames of the report channel."""

    def __init__(self, out):
        self.out, self.current, self.lines = out, None, []
        self.received, self.damaged, self.done, self.uname = set(), [], False, None

    def feed_line(self, line):
        line = line.rstrip("\r")
        if line == "@@LAB-DONE":
            self.done = True
        elif line.startswith("@@LAB-BEGIN "):
            fields = line.split()
            if len(fields) != 5:
                self.damaged.append(f"malformed frame header {line!r}")
                return
            self.current, self.lines = fields[1:], []
        elif line.startswith("@@LAB-END "):
            if self.current is None:
                self.damaged.append(f"frame end without a start: {line!r}")
                return
            self.finish()
        elif self.current is not None:
            self.lines.append(line)

    def finish(self):
        name, stream, size, digest = self.current
        self.current = None
        try:
            data = base64.b64decode("".join(self.lines), validate=True)
        except ValueError as error:
            self.damaged.append(f"{name} {stream}: not base64 ({error})")
            return
        if len(data) != int(size) or hashlib.sha256(data).hexdigest() != digest:
            self.damaged.append(f"{name} {stream}: {len(data)} bytes arrived, {size} were sent, "
                                f"or their sha256 differs")
            return
        if name == "guest" and stream == "uname":
            self.uname = data.decode(errors="replace").strip()
            return
        with open(os.path.join(self.out, f"{name}.{stream}"), "wb") as f:
            f.write(data)
        self.received.add((name, stream))


def monitor_dump(sock_path, out):
    """Asks QEMU's monitor where every CPU is, for a guest that hangs."""
    try:
        with socket.socket(socket.AF_UNIX) as s:
            s.settimeout(3)
            s.connect(sock_path)
            s.sendall(b"info registers -a\n")
            data = b""
            try:
                while chunk := s.recv(1 << 16):
                    data += chunk
            except socket.timeout:
                pass
        with open(os.path.join(out, "hang-registers.txt"), "wb") as f:
            f.write(data)
    except OSError as error:
        with open(os.path.join(out, "hang-registers.txt"), "w") as f:
            f.write(f"QEMU's monitor did not answer: {error}\n")


def run_guest(qemu_args, commands, out, stall):
    """Boots QEMU and watches it: a guest whose console and report channel both
    stay silent for `stall` seconds (the guest prints a heartbeat every 10 s),
    or whose current command outlives its timeout by 120 s, is killed."""
    console, serial = os.path.join(out, "console.log"), os.path.join(out, "serial.raw")
    monitor = os.path.join(out, "monitor.sock")
    for path in (console, serial, monitor):
        if os.path.exists(path):
            os.unlink(path)
    args = qemu_args + ["-serial", f"file:{console}", "-serial", f"file:{serial}",
                        "-monitor", f"unix:{monitor},server,nowait"]
    limits = {c["name"]: c["timeout"] for c in commands}
    start = time.monotonic()
    qemu = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, start_new_session=True)
    decoder = FrameDecoder(out)
    offsets, partial = {console: 0, serial: 0}, ""
    last_progress, current, current_since = time.monotonic(), None, None
    outcome, detail = None, ""
    console_text = ""
    while True:
        exited = qemu.poll() is not None
        for path in (console, serial):
            if not os.path.exists(path):
                continue
            with open(path, "rb") as f:
                f.seek(offsets[path])
                chunk = f.read()
            if not chunk:
                continue
            offsets[path] += len(chunk)
            last_progress = time.monotonic()
            text = chunk.decode("latin-1")
            if path == serial:
                lines = (partial + text).split("\n")
                partial = lines.pop()
                for line in lines:
                    decoder.feed_line(line)
            else:
                console_text += text
                for m in re.finditer(r"@@LAB START (\S+) (\d+)", text):
                    current, current_since = m.group(1), time.monotonic()
                    print(f"lab: {os.path.basename(out)}: {current}", file=sys.stderr, flush=True)
        if exited:
            break
        now = time.monotonic()
        if now - last_progress > stall:
            outcome = "hung"
            detail = f"no output for {stall} s" + (f" while running {current}" if current else "")
        elif current and now - current_since > limits.get(current, 0) + 120:
            outcome = "hung"
            detail = (f"{current} ran {int(now - current_since)} s, past its {limits[current]} s "
                      f"timeout, and the guest did not stop it")
        if outcome:
            monitor_dump(monitor, out)
            os.killpg(qemu.pid, signal.SIGKILL)
            qemu.wait()
            break
        time.sleep(1)
    if partial:
        decoder.feed_line(partial)
    qemu_output = qemu.stdout.read().decode(errors="replace")
    if outcome is None:
        if decoder.done:
            outcome, detail = "completed", "every command ran"
        else:
            outcome = "stopped"
            detail = f"QEMU exited with status {qemu.returncode} before the guest finished"
            if qemu_output.strip():
                detail += ": " + qemu_output.strip().splitlines()[-1]
    missing = [c["name"] for c in commands
               if any((c["name"], s) not in decoder.received for s in ("stdout", "stderr", "status"))]
    result = {"outcome": outcome, "detail": detail, "seconds": int(time.monotonic() - start),
              "uname": decoder.uname, "damaged": decoder.damaged, "missing": missing,
              "qemu_output": qemu_output[-4000:]}
    with open(os.path.join(out, "run.json"), "w") as f:
        json.dump(result, f, indent=1)
    if outcome != "completed":
        tail = "\n".join(l for l in console_text.splitlines() if "heartbeat" not in l)[-3000:]
        print(f"lab: {os.path.basename(out)}: guest {outcome}: {detail}; the console's last "
              f"lines:\n{tail}", file=sys.stderr)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="action", required=True)
    p = sub.add_parser("commands")
    p.add_argument("kernel_dir")
    p.add_argument("tests_dir")
    p.add_argument("--json", action="store_true")
    p = sub.add_parser("boot")
    p.add_argument("--qemu-args", required=True, help="file with one QEMU argument a line")
    p.add_argument("--commands", required=True, help="the JSON from `commands --json`")
    p.add_argument("--out", required=True)
    p.add_argument("--stall", type=int, default=90)
    p = sub.add_parser("native")
    p.add_argument("--commands", required=True)
    p.add_argument("--path", required=True)
    p.add_argument("--out", required=True)
    args = parser.parse_args()
    lab_dir = os.path.dirname(os.path.abspath(__file__))
    if args.action == "commands":
        commands = command_list(lab_dir, args.kernel_dir, args.tests_dir)
        if args.json:
            json.dump(commands, sys.stdout, indent=1)
        else:
            for c in commands:
                print(f"{c['name']}\t{c['timeout']}\t{c['command']}")
        return
    with open(args.commands, encoding="utf-8") as f:
        commands = json.load(f)
    os.makedirs(args.out, exist_ok=True)
    if args.action == "native":
        run_native(commands, args.path, args.out)
    else:
        with open(args.qemu_args, encoding="utf-8") as f:
            qemu_args = [line.rstrip("\n") for line in f if line.strip()]
        run_guest(qemu_args, commands, args.out, args.stall)


if __name__ == "__main__":
    main()
