"""Imported by the local pool's forkserver only (``set_forkserver_preload``), never elsewhere: it ignores SIGTERM.

A SIGTERM to the whole process group (``timeout``, systemd, ``kill -- -PGID``) would otherwise kill the forkserver, and
with it the pool's view of its workers: every combination in flight would be stored as failed. The forkserver
already ignores SIGINT for the same reason (Ctrl-C). The sweep process decides what a signal means (finish what is
in flight, then stop); the forkserver still exits when the sweep process is gone (its alive pipe closes), and the
workers it forks, which inherit this, are stopped with SIGKILL when the sweep aborts.
"""
import signal

signal.signal(signal.SIGTERM, signal.SIG_IGN)
