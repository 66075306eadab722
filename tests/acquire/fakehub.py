"""A Hugging Face Hub stand-in on 127.0.0.1 speaking the endpoints huggingface_hub calls:
`GET /api/datasets/<id>/revision/<rev>?blobs=true` (commit + siblings with sizes and LFS sha256),
`HEAD|GET /datasets/<id>/resolve/<rev>/<file>` (X-Repo-Commit, ETag / X-Linked-Etag, X-Linked-Size,
Range requests, GatedRepo / EntryNotFound / RepoNotFound / RevisionNotFound error codes), plus
plain `/files/<name>` URLs. Every request is recorded; a file can be served corrupted or stalled
part-way (bounded by an event with a timeout) to simulate a killed download."""

from __future__ import annotations

import hashlib
import json
import re
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import unquote, urlsplit


@dataclass
class Repo:
    commit: str
    files: dict[str, bytes]
    lfs: set[str] = field(default_factory=set)       # served as LFS: X-Linked-Etag = sha256
    gated: bool = False
    branch: str = "main"


@dataclass
class Request:
    method: str
    path: str
    range: str | None
    auth: str | None


class FakeHub:
    TOKEN = "hf_fixture_token_123"

    def __init__(self):
        self.repos: dict[str, Repo] = {}
        self.urls: dict[str, bytes] = {}                # /files/<name>
        self.corrupt: set[str] = set()                  # paths served with one byte flipped
        self.stall_after: dict[str, int] = {}           # path -> bytes sent before stalling
        self.release = threading.Event()
        self.requests: list[Request] = []
        hub = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_HEAD(self):
                hub._serve(self, head=True)

            def do_GET(self):
                hub._serve(self, head=False)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_port}"

    def __enter__(self) -> "FakeHub":
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.release.set()
        self.server.shutdown()
        self.server.server_close()

    def add(self, repo_id: str, files: dict[str, bytes], lfs: set[str] | None = None, gated: bool = False) -> Repo:
        commit = hashlib.sha1(repo_id.encode()).hexdigest()
        self.repos[repo_id] = Repo(commit, files, set(lfs or ()), gated)
        return self.repos[repo_id]

    def downloads(self, since: int = 0) -> list[str]:
        """Paths of the file GETs (hub resolve or plain URL) since request number `since`."""
        return [r.path for r in self.requests[since:] if r.method == "GET" and not r.path.startswith("/api/")]

    # --- handlers ---------------------------------------------------------------------------
    def _error(self, h, code: int, error_code: str, commit: str | None = None):
        h.send_response(code)
        h.send_header("X-Error-Code", error_code)
        h.send_header("X-Error-Message", error_code)
        if commit:
            h.send_header("X-Repo-Commit", commit)
        h.send_header("Content-Length", "0")
        h.end_headers()

    def _serve(self, h, head: bool):
        parts = urlsplit(h.path)
        path = unquote(parts.path)
        self.requests.append(Request(h.command, path, h.headers.get("Range"), h.headers.get("Authorization")))
        m = re.fullmatch(r"/api/datasets/(.+?/.+?)/revision/(.+)", path)
        if m:
            return self._info(h, m.group(1), m.group(2))
        m = re.fullmatch(r"/datasets/(.+?/.+?)/resolve/([^/]+)/(.+)", path)
        if m:
            return self._resolve(h, head, *m.groups())
        m = re.fullmatch(r"/files/(.+)", path)
        if m and m.group(1) in self.urls:
            return self._body(h, head, path, self.urls[m.group(1)], {})
        return self._error(h, 404, "EntryNotFound")

    def _repo(self, h, repo_id: str, rev: str) -> Repo | None:
        repo = self.repos.get(repo_id)
        if repo is None:
            self._error(h, 404, "RepoNotFound")
            return None
        if rev not in (repo.commit, repo.branch):
            self._error(h, 404, "RevisionNotFound")
            return None
        return repo

    def _info(self, h, repo_id: str, rev: str):
        repo = self._repo(h, repo_id, rev)
        if repo is None:
            return
        siblings = []
        for name, data in sorted(repo.files.items()):
            s = {"rfilename": name, "size": len(data), "blobId": hashlib.sha1(data).hexdigest()}
            if name in repo.lfs:
                s["lfs"] = {"sha256": hashlib.sha256(data).hexdigest(), "size": len(data), "pointerSize": 134}
            siblings.append(s)
        body = json.dumps({"id": repo_id, "sha": repo.commit, "gated": "auto" if repo.gated else False,
                           "siblings": siblings}).encode()
        h.send_response(200)
        h.send_header("Content-Type", "application/json")
        h.send_header("Content-Length", str(len(body)))
        h.end_headers()
        h.wfile.write(body)

    def _resolve(self, h, head: bool, repo_id: str, rev: str, name: str):
        repo = self._repo(h, repo_id, rev)
        if repo is None:
            return
        if repo.gated and h.headers.get("Authorization") != f"Bearer {self.TOKEN}":
            return self._error(h, 401, "GatedRepo", repo.commit)
        if name not in repo.files:
            return self._error(h, 404, "EntryNotFound", repo.commit)
        data = repo.files[name]
        headers = {"X-Repo-Commit": repo.commit}
        if name in repo.lfs:
            sha = hashlib.sha256(data).hexdigest()
            headers.update({"X-Linked-Etag": f'"{sha}"', "X-Linked-Size": str(len(data)), "ETag": f'"{sha}"'})
        else:
            headers["ETag"] = f'"{hashlib.sha1(data).hexdigest()}"'
        self._body(h, head, f"/datasets/{repo_id}/resolve/{rev}/{name}", data, headers)

    def _body(self, h, head: bool, key: str, data: bytes, headers: dict):
        if key in self.corrupt:
            data = bytes([data[0] ^ 0xFF]) + data[1:]
        start = 0
        rng = h.headers.get("Range")
        if rng and not head:
            start = int(re.fullmatch(r"bytes=(\d+)-", rng).group(1))
        body = data[start:]
        h.send_response(206 if start else 200)
        for k, v in headers.items():
            h.send_header(k, v)
        if start:
            h.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
        h.send_header("Accept-Ranges", "bytes")
        h.send_header("Content-Length", str(len(body)))
        h.end_headers()
        if head:
            return
        stall = self.stall_after.get(key)
        if stall is not None and not start:
            h.wfile.write(body[:stall])
            h.wfile.flush()
            self.release.wait(timeout=20)  # the test kills the client meanwhile
            return
        h.wfile.write(body)
