"""A loopback server speaking the parts of the Hugging Face Hub protocol `huggingface_hub` uses to download files.

- `GET /api/models/{repo}` and `/api/models/{repo}/revision/{rev}`: model info; with `?blobs=true` the siblings
  carry `size`, `blobId` and, for LFS files, `lfs: {size, sha256, pointerSize}`.
- `HEAD|GET /{repo}/resolve/{rev}/{file}`: the file, with `ETag`, `X-Repo-Commit`, `Content-Length` and, for LFS
  files, `X-Linked-Etag` (its sha256) and `X-Linked-Size`; `X-Error-Code` on 404s, as the Hub does.

Tests can make it misbehave: serve other bytes than it describes (`corrupt`), or delay file bodies (`delay_s`).
Requests are counted per (method, path).
"""

from __future__ import annotations

import asyncio
import hashlib
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

COMMIT = "0123456789abcdef0123456789abcdef01234567"


def git_blob_id(data: bytes) -> str:
    return hashlib.sha1(f"blob {len(data)}\0".encode() + data).hexdigest()


@dataclass
class HubRepo:
    files: dict[str, bytes]
    commit: str = COMMIT

    def is_lfs(self, name: str) -> bool:
        return name.endswith(".onnx")


@dataclass
class FakeHub:
    repos: dict[str, HubRepo] = field(default_factory=dict)
    corrupt: dict[str, bytes] = field(default_factory=dict)  # "repo/file" -> bytes served instead
    delay_s: float = 0.0  # wait before sending a file body (a slow download)
    requests: Counter = field(default_factory=Counter)

    def add_folder(self, repo: str, folder: Path, extra: dict[str, bytes] | None = None) -> HubRepo:
        files = {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}
        self.repos[repo] = HubRepo({**files, **(extra or {})})
        return self.repos[repo]

    def file_gets(self) -> int:
        return sum(n for (method, path), n in self.requests.items() if method == "GET" and "/resolve/" in path)

    def app(self) -> Starlette:
        return Starlette(
            routes=[
                Route("/api/models/{org}/{name}", self._info),
                Route("/api/models/{org}/{name}/revision/{rev}", self._info),
                Route("/{org}/{name}/resolve/{rev}/{path:path}", self._resolve, methods=["GET", "HEAD"]),
            ]
        )

    def _repo(self, request: Request) -> tuple[str, HubRepo | None]:
        repo_id = f"{request.path_params['org']}/{request.path_params['name']}"
        return repo_id, self.repos.get(repo_id)

    async def _info(self, request: Request) -> Response:
        self.requests[(request.method, request.url.path)] += 1
        repo_id, repo = self._repo(request)
        if repo is None:
            return JSONResponse({"error": "Repository not found"}, 404, headers={"X-Error-Code": "RepoNotFound"})
        rev = request.path_params.get("rev")
        if rev not in (None, "main", repo.commit):
            return JSONResponse({"error": "Invalid rev id"}, 404, headers={"X-Error-Code": "RevisionNotFound"})
        blobs = request.query_params.get("blobs") in ("true", "True", "1")
        siblings = []
        for name, data in repo.files.items():
            sibling: dict = {"rfilename": name}
            if blobs:
                if repo.is_lfs(name):
                    pointer = f"version https://git-lfs.github.com/spec/v1\noid sha256:{_sha(data)}\nsize {len(data)}\n"
                    sibling.update(
                        size=len(data),
                        blobId=git_blob_id(pointer.encode()),
                        lfs={"size": len(data), "sha256": _sha(data), "pointerSize": len(pointer)},
                    )
                else:
                    sibling.update(size=len(data), blobId=git_blob_id(data))
            siblings.append(sibling)
        return JSONResponse(
            {"id": repo_id, "modelId": repo_id, "sha": repo.commit, "private": False, "siblings": siblings}
        )

    async def _resolve(self, request: Request) -> Response:
        path = request.path_params["path"]
        self.requests[(request.method, request.url.path)] += 1
        repo_id, repo = self._repo(request)
        if repo is None:
            return Response(b"", 404, headers={"X-Error-Code": "RepoNotFound"})
        rev = request.path_params["rev"]
        if rev not in ("main", repo.commit):
            return Response(b"", 404, headers={"X-Error-Code": "RevisionNotFound"})
        if path not in repo.files:
            return Response(b"", 404, headers={"X-Error-Code": "EntryNotFound", "X-Repo-Commit": repo.commit})
        data = repo.files[path]
        served = self.corrupt.get(f"{repo_id}/{path}", data)
        headers = {
            "X-Repo-Commit": repo.commit,
            "Content-Length": str(len(served)),
            "Accept-Ranges": "bytes",
            "Content-Type": "application/octet-stream",
        }
        if repo.is_lfs(path):
            headers.update(
                {"ETag": f'"{git_blob_id(data)}"', "X-Linked-Etag": f'"{_sha(data)}"', "X-Linked-Size": str(len(data))}
            )
        else:
            headers["ETag"] = f'"{git_blob_id(data)}"'
        if request.method == "HEAD":
            return Response(b"", 200, headers=headers)
        if self.delay_s:
            await asyncio.sleep(self.delay_s)
        return Response(served, 200, headers=headers)


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()
