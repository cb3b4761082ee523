"""The GIL is released while sealing and opening: another Python thread keeps running."""

import threading

import esmtp

BIG = bytes(64 * 1024 * 1024)


def _count_while(work) -> int:
    """Run `work` on a thread that signals just before it starts; count how often this thread
    runs Python code while the work is under way. With the GIL held throughout, that is at most
    a handful (the moments before the call takes the GIL and after it returns)."""
    started, finished = threading.Event(), threading.Event()
    result: list = []

    def run():
        started.set()
        result.append(work())
        finished.set()

    worker = threading.Thread(target=run)
    worker.start()
    started.wait()
    count = 0
    while not finished.is_set():
        count += 1
    worker.join()
    assert result, "the work returned"
    return count


def test_another_thread_runs_during_a_large_seal_and_open():
    bob = esmtp.X25519Identity.generate()
    envelope = []
    sealed_count = _count_while(lambda: envelope.append(esmtp.seal(BIG, recipients=[bob.to_public()])))
    assert sealed_count > 1000, sealed_count
    opened_count = _count_while(lambda: esmtp.open(envelope[0], identities=[bob]))
    assert opened_count > 1000, opened_count
