"""Timings for docs/benchmarks.md, taken from outside over loopback.

  measure.py get BASE TOKEN PATH [RUNS]          median, p90 and max of RUNS GETs (ms)
  measure.py resume BASE TOKEN CHAT EVENTS [RUNS] a WebSocket resume of the chat's last EVENTS
                                                 events: time to `resumed`, and the count

`resume` needs the `websockets` package (PyPI).
"""
import asyncio
import json
import statistics
import sys
import time
import urllib.request


def summary(ms):
    ms = sorted(ms)
    p90 = ms[min(len(ms) - 1, round(0.9 * (len(ms) - 1)))]
    return f"median {statistics.median(ms):8.2f}  p90 {p90:8.2f}  max {ms[-1]:8.2f} ms  ({len(ms)} runs)"


def get(base, token, path, runs=20):
    ms, size = [], 0
    for i in range(runs + 2):
        req = urllib.request.Request(base + path, headers={"authorization": f"Bearer {token}"})
        t = time.perf_counter()
        with urllib.request.urlopen(req) as answer:
            size = len(answer.read())
        if i >= 2:  # two warm-up requests
            ms.append((time.perf_counter() - t) * 1000)
    print(f"GET {path}: {summary(ms)}, {size} bytes")


async def resume_once(base, token, chat, events):
    import websockets
    url = base.replace("http", "ws", 1) + "/api/v1/ws?token=" + token
    last = json.load(urllib.request.urlopen(urllib.request.Request(
        f"{base}/api/v1/chats/{chat}", headers={"authorization": f"Bearer {token}"})))["last_seq"]
    async with websockets.connect(url, max_size=None, origin=base) as ws:
        while json.loads(await ws.recv()).get("type") != "ready":
            pass
        t = time.perf_counter()
        await ws.send(json.dumps({"type": "resume", "chat_id": chat, "after_seq": last - events}))
        seen = 0
        while True:
            frame = json.loads(await ws.recv())
            if frame.get("type") == "resumed":
                return (time.perf_counter() - t) * 1000, seen
            if frame.get("chat_id") == chat and "seq" in frame:
                seen += 1


def resume(base, token, chat, events, runs=5):
    results = [asyncio.run(resume_once(base, token, int(chat), int(events))) for _ in range(runs)]
    print(f"resume {events} events of chat {chat}: {summary([r[0] for r in results])}, "
          f"{results[-1][1]} events replayed")


if __name__ == "__main__":
    command, args = sys.argv[1], sys.argv[2:]
    if command == "get":
        get(args[0], args[1], args[2], *(int(a) for a in args[3:]))
    elif command == "resume":
        resume(*args[:4], *(int(a) for a in args[4:]))
    else:
        sys.exit(__doc__)
