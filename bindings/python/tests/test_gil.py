"""The GIL is released while sealing and opening: another Python thread keeps running.

The switch interval is raised for the test, so a thread holding the GIL keeps it until it blocks
or ends; this thread waits in slices that release the GIL and counts the slices it gets while the
work is under way. A call that holds the GIL lets it count at most a couple (a native call that
holds it, `bytes.replace`, is the control); a call that releases it lets it count many."""

import sys
import threading

import esmtp

BIG = bytes(64 * 1024 * 1024)


def _slices_during(work) -> int:
    started, finished = threading.Event(), threading.Event()
    result: list = []

    def run():
        started.set()
        result.append(work())
        finished.set()

    interval = sys.getswitchinterval()
    sys.setswitchinterval(30.0)
    try:
        worker = threading.Thread(target=run)
        worker.start()
        started.wait()
        count = 0
        while not finished.wait(0.0001):
            count += 1
        worker.join()
    finally:
        sys.setswitchinterval(interval)
    assert result, "the work returned"
    return count


def test_the_measure_sees_a_call_that_holds_the_gil():
    assert _slices_during(lambda: BIG.replace(b"\0", b"\1")) <= 2


def test_another_thread_runs_during_a_large_seal_and_open():
    bob = esmtp.X25519Identity.generate()
    envelope = []
    sealing = _slices_during(lambda: envelope.append(esmtp.seal(BIG, recipients=[bob.to_public()])))
    assert sealing > 20, sealing
    opening = _slices_during(lambda: esmtp.open(envelope[0], identities=[bob]))
    assert opening > 20, opening
