"""A webhook receiver for measurements (docs/issue30-bench.sh): answers every POST 204 at once
and records when each event arrived against the commit time its message carries; GET /stats
answers {"events", "duplicates", "out_of_order", "per_second", "p50_ms", "p99_ms"}.
Usage: python3 docs/webhook-receiver.py PORT"""
import json
import sys
import threading
import time
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

lock = threading.Lock()
seen = set()
last_seq = {}
stats = {"events": 0, "duplicates": 0, "out_of_order": 0, "first": None, "last": None, "lat": []}


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("content-length", 0)))
        now = time.time()
        self.send_response(204)
        self.send_header("content-length", "0")
        self.end_headers()
        event = json.loads(body)
        created = event["data"].get("created_at")
        with lock:
            hook_id = self.headers.get("webhook-id")
            if hook_id in seen:
                stats["duplicates"] += 1
                return
            seen.add(hook_id)
            chat = event["chat_id"]
            if last_seq.get(chat, 0) > event["seq"]:
                stats["out_of_order"] += 1
            last_seq[chat] = max(last_seq.get(chat, 0), event["seq"])
            stats["events"] += 1
            stats["first"] = stats["first"] or now
            stats["last"] = now
            if created:
                at = datetime.fromisoformat(created.replace("Z", "+00:00")).timestamp()
                stats["lat"].append((now - at) * 1000)

    def do_GET(self):
        with lock:
            lat = sorted(stats["lat"])
            span = (stats["last"] or 0) - (stats["first"] or 0)
            out = {
                "events": stats["events"],
                "duplicates": stats["duplicates"],
                "out_of_order": stats["out_of_order"],
                "per_second": round(stats["events"] / span, 1) if span > 0 else 0,
                "p50_ms": round(lat[len(lat) // 2], 1) if lat else 0,
                "p99_ms": round(lat[min(len(lat) - 1, int(len(lat) * 0.99))], 1) if lat else 0,
            }
        body = json.dumps(out).encode()
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), Handler).serve_forever()
