"""``POST /api/v1/events`` (also ``/v1/events``): events over HTTP, ingested like a file.

The body is JSON Lines or a JSON array in any format ``idwatch ingest`` reads; the answer is
the ingest counts (``records = stored + duplicates + quarantined + skipped``) and the number of
alerts the batch made new. A full ingest queue answers 503 with ``Retry-After``; nothing is
dropped. Needs role ``analyst`` (it writes to the store).
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from starlette.concurrency import run_in_threadpool

from idwatch.api.auth import analyst
from idwatch.stream.batch import Busy, Gate

router = APIRouter(dependencies=[Depends(analyst)])

MAX_BODY = 64 * 1024 * 1024  #: one request's body at most (a micro-batch, not a bulk load)


def _gate(request: Request) -> Gate:
    gate = getattr(request.app.state, "ingest_gate", None)
    if gate is None:
        gate = request.app.state.ingest_gate = Gate(depth=4)
    return gate


@router.post("/api/v1/events")
@router.post("/v1/events", include_in_schema=False)
async def post_events(
    request: Request,
    format: str = Query("auto", description="auto (sniffed) or a format name: native, ocsf, entra ..."),
    detect: bool = Query(True, description="run the detections incrementally after storing"),
) -> dict[str, Any]:
    body = await request.body()
    if len(body) > MAX_BODY:
        raise HTTPException(413, f"body of {len(body):,} bytes is over the {MAX_BODY:,} a request may carry")
    if not body.strip():
        raise HTTPException(400, "empty body: send JSON Lines or a JSON array of events")
    try:
        result = await run_in_threadpool(
            _gate(request).run, request.app.state.store, body, format, detect=detect
        )
    except Busy as exc:
        raise HTTPException(503, str(exc), headers={"Retry-After": "1"}) from exc
    s = result.ingest
    if s.refused:
        raise HTTPException(422, s.refused[0]["reason"])
    return {
        "records": s.records,
        "ingested": s.stored,
        "duplicate": s.duplicates,
        "quarantined": s.quarantined,
        "skipped": s.skipped,
        "quarantined_by_reason": s.quarantined_by_reason,
        "skipped_by_kind": s.skipped_by_kind,
        "new_alerts": len(result.new_alerts),
    }
