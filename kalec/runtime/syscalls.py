"""What a step's child processes and native code do to files, seen at the system-call level.

Python's own file functions are observed by wrapping them (``file_hooks``). A child process
(``!cat data.csv``, ``subprocess.run``, a loky worker) or a library that opens files in C
(sqlite, HDF5, Arrow) never calls them. On Linux, a seccomp filter with a user-space listener
sees those calls too: every process under the filter stops at ``open``, ``rename``, ``unlink``,
``mkdir``, ``execve`` (and their ``*at`` forms) until a supervisor has looked at the path and
let the call go on. Nothing is refused or changed; the supervisor only records, as
``observe.Observer`` records a Python-level call, so the step's record reads the same whichever
way a file was touched. The filter is inherited by every process the step starts, so a shell
that runs ``awk`` that writes a file is seen too.

The step process asks for the filter only once it is about to reach such a channel (``channels``
decides when): until then its calls cost nothing. The supervisor is the step's parent process
(``supervise``), so it may read the memory of every process under the filter, where the
paths are, also where the kernel allows that only to a process's ancestors.

Not available (macOS, a kernel before 5.5, a sandbox that forbids seccomp): ``unavailable()``
says why, and a step that reaches such a channel is not reused (``channels``).
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import fcntl
import functools
import os
import platform
import select
import socket
import struct
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

# --- the kernel's interface (linux/seccomp.h, linux/filter.h) -------------------------------

_SET_MODE_FILTER = 1
_FLAG_TSYNC, _FLAG_NEW_LISTENER, _FLAG_TSYNC_ESRCH = 1, 1 << 3, 1 << 4
_RET_ALLOW, _RET_USER_NOTIF = 0x7FFF0000, 0x7FC00000
_NOTIF_RECV, _NOTIF_SEND, _NOTIF_ID_VALID = 0xC0502100, 0xC0182101, 0x40082102
_CONTINUE = 1
_PR_SET_NO_NEW_PRIVS = 38
_AT_FDCWD = -100
_AT_REMOVEDIR = 0x200
_NOTIF = struct.Struct("QIIiIQ6Q")  # seccomp_notif: id, pid, flags, then seccomp_data
_RESPONSE = struct.Struct("QqiI")  # seccomp_notif_resp: id, val, error, flags
_FILTER_OP = struct.Struct("HBBI")  # sock_filter: code, jt, jf, k


@dataclass(frozen=True)
class Call:
    """How to read one system call: where its paths are and what it does to them.

    ``paths``: (index of the directory descriptor argument or None, index of the path
    argument) for each path; ``action``: "open", "open2" (flags in a struct), "create",
    "rename", "remove", "mkdir", "link", "truncate", "exec"."""

    action: str
    paths: tuple[tuple[int | None, int], ...]
    flags: int | None = None  # index of the flags argument


_COMMON = {  # the same number on every architecture that has them
    437: Call("open2", ((0, 1),)),  # openat2
}
_ARCHITECTURES: dict[str, tuple[int, int, dict[int, Call]]] = {
    # machine -> (AUDIT_ARCH_*, number of seccomp(2), calls)
    "x86_64": (
        0xC000003E,
        317,
        {
            2: Call("open", ((None, 0),), 1),
            85: Call("create", ((None, 0),)),
            257: Call("open", ((0, 1),), 2),
            82: Call("rename", ((None, 0), (None, 1))),
            264: Call("rename", ((0, 1), (2, 3))),
            316: Call("rename", ((0, 1), (2, 3))),
            87: Call("remove", ((None, 0),)),
            263: Call("remove", ((0, 1),)),
            84: Call("remove", ((None, 0),)),
            83: Call("mkdir", ((None, 0),)),
            258: Call("mkdir", ((0, 1),)),
            86: Call("link", ((None, 1),)),
            265: Call("link", ((2, 3),)),
            88: Call("link", ((None, 1),)),
            266: Call("link", ((1, 2),)),
            76: Call("truncate", ((None, 0),)),
            59: Call("exec", ((None, 0),)),
            322: Call("exec", ((0, 1),)),
            **_COMMON,
        },
    ),
    "aarch64": (
        0xC00000B7,
        277,
        {
            56: Call("open", ((0, 1),), 2),
            38: Call("rename", ((0, 1), (2, 3))),
            276: Call("rename", ((0, 1), (2, 3))),
            35: Call("remove", ((0, 1),)),
            34: Call("mkdir", ((0, 1),)),
            37: Call("link", ((2, 3),)),
            36: Call("link", ((1, 2),)),
            45: Call("truncate", ((None, 0),)),
            221: Call("exec", ((None, 0),)),
            281: Call("exec", ((0, 1),)),
            **_COMMON,
        },
    ),
}


@functools.cache
def unavailable() -> str | None:
    """Why the system-call observer cannot run here; None when it can."""
    if os.environ.get("KALEC_OBSERVE_SYSCALLS") == "0":
        return "the system-call observer is turned off by KALEC_OBSERVE_SYSCALLS=0"
    if not sys.platform.startswith("linux"):
        return f"child processes and native code cannot be observed on {sys.platform}"
    if platform.machine() not in _ARCHITECTURES:
        return f"child processes cannot be observed on {platform.machine()} yet"
    try:
        with open("/proc/sys/kernel/seccomp/actions_avail", encoding="ascii") as handle:
            actions = handle.read().split()
    except OSError:
        return "this kernel offers no seccomp filters"
    if "user_notif" not in actions:
        return "this kernel's seccomp filters cannot notify (Linux 5.5 or newer is needed)"
    try:
        _libc().syscall  # noqa: B018 - its presence is the check
    except (OSError, AttributeError):
        return "the C library cannot be called"
    return None


@functools.cache
def _libc() -> ctypes.CDLL:
    """The C library, loaded once (kept: a loaded library's function types form a cycle)."""
    return ctypes.CDLL(None, use_errno=True)


def _program(numbers: list[int], arch: int) -> bytes:
    """A classic BPF program: notify for ``numbers`` of architecture ``arch``, allow the rest."""
    ops = [(0x20, 0, 0, 4)]  # load seccomp_data.arch
    ops.append((0x15, 0, len(numbers) + 2, arch))  # another architecture (x32): allow
    ops.append((0x20, 0, 0, 0))  # load seccomp_data.nr
    for index, number in enumerate(numbers):
        ops.append((0x15, len(numbers) - index, 0, number))  # jump to "notify"
    ops.append((0x06, 0, 0, _RET_ALLOW))
    ops.append((0x06, 0, 0, _RET_USER_NOTIF))
    return b"".join(_FILTER_OP.pack(*op) for op in ops)


def install() -> int:
    """Put the calling process (all its threads) and every process it starts from now on under
    the filter; the listener's descriptor, for the supervisor. Raises ``OSError``."""
    reason = unavailable()
    if reason:
        raise OSError(errno.ENOSYS, reason)
    arch, number, calls = _ARCHITECTURES[platform.machine()]
    libc = _libc()
    code = ctypes.create_string_buffer(_program(sorted(calls), arch))
    count = len(code.raw) // _FILTER_OP.size
    fprog = ctypes.create_string_buffer(struct.pack("HxxxxxxQ", count, ctypes.addressof(code)))
    if libc.prctl(_PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "cannot set no_new_privs")
    tried = []
    for flags in (_FLAG_NEW_LISTENER | _FLAG_TSYNC | _FLAG_TSYNC_ESRCH, _FLAG_NEW_LISTENER):
        if flags == _FLAG_NEW_LISTENER and len(os.listdir("/proc/self/task")) > 1:
            break  # other threads would not be under the filter
        listener = libc.syscall(number, _SET_MODE_FILTER, flags, fprog)
        if listener >= 0:
            return int(listener)
        tried.append(ctypes.get_errno())
    code_ = tried[-1] if tried else errno.EBUSY
    raise OSError(code_, f"the kernel refused the seccomp filter: {os.strerror(code_)}")


# --- the supervisor -----------------------------------------------------------------------------


class Recorder(Protocol):
    """What the supervisor tells of each call (``observe.Observer`` is one)."""

    def saw(self, raw: str, use: str, status: object = False) -> None: ...
    def wrote(self, raw: str, replaces: bool, use: str = "read") -> None: ...
    def appended(self, raw: str) -> None: ...
    def ran(self, program: str, argv: list[str]) -> None: ...


class Supervisor:
    """Answers the notifications of one or more listeners, recording each call's paths."""

    def __init__(self, recorder: Recorder) -> None:
        self.recorder = recorder
        self.calls = _ARCHITECTURES[platform.machine()][2]
        self.listeners: list[int] = []
        self._memory: dict[int, int] = {}  # thread id -> descriptor of /proc/TID/mem
        self._python: dict[int, bool] = {}  # thread id -> it runs a Python interpreter
        self._import_folders = {
            os.path.abspath(p) for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p
        }
        self._notification = bytearray(_NOTIF.size)
        self._response = bytearray(_RESPONSE.size)
        self._empty = bytes(_NOTIF.size)
        self.seconds = 0.0  # spent answering, for the benchmarks
        self.supervised = False  # a listener came: some process was under the filter

    def add(self, listener: int) -> None:
        self.listeners.append(listener)
        self.supervised = True

    def close(self) -> None:
        for fd in [*self.listeners, *self._memory.values()]:
            with contextlib.suppress(OSError):
                os.close(fd)
        self.listeners.clear()
        self._memory.clear()

    def answer(self, listener: int) -> bool:
        """Answer one notification of ``listener`` (call it when the listener polls readable:
        receiving waits for one); False when it has ended (no process is left under its
        filter)."""
        self._notification[:] = self._empty  # the kernel wants it zeroed
        try:
            fcntl.ioctl(listener, _NOTIF_RECV, self._notification, True)
        except OSError as error:
            if error.errno in (errno.EINTR, errno.EAGAIN):
                return error.errno == errno.EINTR
            with contextlib.suppress(ValueError):
                self.listeners.remove(listener)
            with contextlib.suppress(OSError):
                os.close(listener)
            return False
        started = time.perf_counter()
        ident, tid, _, number, _, _, *args = _NOTIF.unpack_from(self._notification)
        call = self.calls.get(number)
        if call is not None:
            with contextlib.suppress(Exception):  # a record lost, never a call held up
                self._record(listener, ident, tid, call, args)
        _RESPONSE.pack_into(self._response, 0, ident, 0, 0, _CONTINUE)
        with contextlib.suppress(OSError):  # the process may have died meanwhile
            fcntl.ioctl(listener, _NOTIF_SEND, self._response, True)
        self.seconds += time.perf_counter() - started
        return True

    def _record(self, listener: int, ident: int, tid: int, call: Call, args: list[int]) -> None:
        paths = [self._path(tid, dirfd, args[index]) for dirfd, index in call.paths]
        dirfds = [None if d is None else _signed(args[d]) for d, _ in call.paths]
        if any(p is None for p in paths) or not self._valid(listener, ident):
            return
        resolved = [self._absolute(tid, d, p) for d, p in zip(dirfds, paths, strict=True)]  # type: ignore[arg-type]
        first = resolved[0]
        record = self.recorder
        if call.action in ("open", "open2", "create"):
            if call.action == "create":
                flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC
            elif call.action == "open2":
                flags = self._read_u64(tid, args[2])
            else:
                flags = args[call.flags] if call.flags is not None else 0
            if flags & os.O_ACCMODE == os.O_RDONLY and self._import_scan(tid, first):
                record.saw(first, "exists")  # a Python's import system, not a listing
            else:
                _opened(record, first, flags)
        elif call.action == "rename":
            record.wrote(first, replaces=False)
            record.wrote(resolved[1], replaces=True)
        elif call.action == "remove":
            record.wrote(first, replaces=False, use="exists")
        elif call.action in ("mkdir", "link"):
            record.wrote(first, replaces=True)
        elif call.action == "truncate":
            record.wrote(first, replaces=False)
        elif call.action == "exec":
            record.saw(first, "exists")  # a program looked for along PATH, or found there
            record.ran(first, self._argv(tid, args[call.paths[0][1] + 1]))
            self._forget(tid)  # its memory (and program) is the new program's from now on
            self._python.pop(tid, None)

    # --- reading the calling process ------------------------------------------------------

    def _import_scan(self, tid: int, path: str) -> bool:
        """True when a Python process opens a folder of its import path: its working folder or
        one of ``PYTHONPATH``, which the import system lists to find modules (the step's own
        listings are seen by its Python-level observer; a Python child's listing of its working
        folder is taken for an import)."""
        if path not in self._import_folders and path != self._cwd(tid):
            return False
        return self._is_python(tid)

    def _cwd(self, tid: int) -> str | None:
        try:
            return os.readlink(f"/proc/{tid}/cwd")
        except OSError:
            return None

    def _is_python(self, tid: int) -> bool:
        found = self._python.get(tid)
        if found is None:
            try:
                program = os.path.basename(os.readlink(f"/proc/{tid}/exe"))
            except OSError:
                program = ""
            found = self._python[tid] = program.startswith(("python", "pypy"))
        return found

    def _valid(self, listener: int, ident: int) -> bool:
        """The notification still stands for the call it was sent for (its thread is alive
        and waiting): what was read from its memory is that call's."""
        try:
            fcntl.ioctl(listener, _NOTIF_ID_VALID, struct.pack("Q", ident))
            return True
        except OSError:
            return False

    def _mem(self, tid: int) -> int:
        fd = self._memory.get(tid)
        if fd is None:
            if len(self._memory) > 256:
                for old in self._memory.values():
                    with contextlib.suppress(OSError):
                        os.close(old)
                self._memory.clear()
            fd = self._memory[tid] = os.open(f"/proc/{tid}/mem", os.O_RDONLY | os.O_CLOEXEC)
        return fd

    def _read(self, tid: int, address: int, size: int) -> bytes:
        try:
            data = os.pread(self._mem(tid), size, address)
        except OSError:
            data = b""
        if data:
            return data
        # the process ran another program (exec) or the id is a new process's: its memory
        # is another one now
        self._forget(tid)
        return os.pread(self._mem(tid), size, address)

    def _forget(self, tid: int) -> None:
        old = self._memory.pop(tid, None)
        if old is not None:
            with contextlib.suppress(OSError):
                os.close(old)

    def _string(self, tid: int, address: int) -> bytes | None:
        """The NUL-terminated string at ``address`` (a path: at most 4096 bytes)."""
        if not address:
            return None
        found = b""
        while len(found) < 4096:
            chunk = self._read(tid, address, 4096 - address % 4096)  # to the page's end
            if not chunk:
                return None
            end = chunk.find(b"\0")
            if end >= 0:
                return found + chunk[:end]
            found += chunk
            address += len(chunk)
        return None

    def _read_u64(self, tid: int, address: int) -> int:
        data = self._read(tid, address, 8)
        return struct.unpack("Q", data)[0] if len(data) == 8 else 0

    def _argv(self, tid: int, address: int) -> list[str]:
        words = []
        for index in range(32):
            pointer = self._read_u64(tid, address + 8 * index) if address else 0
            if not pointer:
                break
            text = self._string(tid, pointer)
            if text is None:
                break
            words.append(os.fsdecode(text))
        return words

    def _path(self, tid: int, dirfd: int | None, address: int) -> bytes | None:
        return self._string(tid, address)

    def _absolute(self, tid: int, dirfd: int | None, path: bytes) -> str:
        text = os.fsdecode(path)
        if os.path.isabs(text):
            return os.path.normpath(text)
        if dirfd is None or dirfd == _AT_FDCWD:
            base = os.readlink(f"/proc/{tid}/cwd")
        else:
            base = os.readlink(f"/proc/{tid}/fd/{dirfd}")
        return os.path.normpath(os.path.join(base, text)) if text else base


def _signed(value: int) -> int:
    """A descriptor argument as the kernel reads it: the low 32 bits, signed."""
    value &= 0xFFFFFFFF
    return value - (1 << 32) if value >= 1 << 31 else value


def _opened(record: Recorder, path: str, flags: int) -> None:
    """Record an ``open`` of ``path`` with ``flags`` as the Python-level wrappers would."""
    if flags & getattr(os, "O_PATH", 0):
        record.saw(path, "exists")
        return
    tmpfile = getattr(os, "O_TMPFILE", 0)
    if tmpfile and flags & tmpfile == tmpfile:
        return  # an unnamed file in that folder: nothing another step could see
    access = flags & os.O_ACCMODE
    if access == os.O_RDONLY:
        if flags & os.O_CREAT:
            record.wrote(path, replaces=False)
        elif flags & getattr(os, "O_DIRECTORY", 0) or os.path.isdir(path):
            record.saw(path, "list")
        else:
            record.saw(path, "read")
    elif flags & os.O_APPEND and access == os.O_WRONLY:
        record.appended(path)
    elif flags & (os.O_TRUNC | os.O_EXCL):
        record.wrote(path, replaces=True)
    else:
        record.wrote(path, replaces=False)


def supervise(
    child: int, control: socket.socket, supervisor: Supervisor, on_exit: Callable[[], None]
) -> int:
    """Until process ``child`` (the step) ends: take listeners it sends over ``control`` and
    answer their notifications. Returns the child's exit code (as ``Popen.returncode``);
    ``on_exit`` runs once it has ended."""
    pidfd = os.pidfd_open(child)
    poller = select.poll()
    poller.register(pidfd, select.POLLIN)
    poller.register(control.fileno(), select.POLLIN)
    try:
        while True:
            try:
                events = poller.poll()
            except InterruptedError:
                continue
            for fd, event in events:
                if fd == pidfd:
                    _, status = os.waitpid(child, 0)
                    on_exit()
                    return os.waitstatus_to_exitcode(status)
                if fd == control.fileno():
                    _take(control, supervisor, poller)
                elif fd in supervisor.listeners:
                    if event & select.POLLIN:  # one: a receive with none pending would wait
                        supervisor.answer(fd)
                    if fd not in supervisor.listeners or event & (select.POLLHUP | select.POLLERR):
                        with contextlib.suppress(KeyError, ValueError):
                            poller.unregister(fd)
    finally:
        os.close(pidfd)
        supervisor.close()


def _take(control: socket.socket, supervisor: Supervisor, poller: select.poll) -> None:
    try:
        _, fds, _, _ = socket.recv_fds(control, 16, 4)
    except (OSError, ValueError):
        fds = []
    if not fds:
        with contextlib.suppress(KeyError, ValueError):
            poller.unregister(control.fileno())
        return
    for fd in fds:
        supervisor.add(fd)
        poller.register(fd, select.POLLIN)
