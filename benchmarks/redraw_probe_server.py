"""`streamlit run app.py` with timing probes in the server process, for benchmarks/bench_redraw_breakdown.py.

    .venv/bin/python benchmarks/redraw_probe_server.py LOG.jsonl [PROFILE_DIR] -- run app.py --server.port 8599 ...

The app is not edited: before Streamlit starts, a few of its functions (and Altair's) are wrapped so that
every script run writes one JSON line to LOG.jsonl, on the epoch clock (``time.time()``, the same clock as
the browser's ``performance.timeOrigin + performance.now()`` on this machine), with:

* ``backmsg``: when each BackMsg from the browser was handled (the rerun request), and its type;
* ``run``: the script run's start and end, its wall and thread CPU time, app.py's own ``_server_seconds``,
  and inside it Altair ``to_dict`` (spec building), its JSON-schema validation, Arrow serialisation of the
  chart data, and the whole ``st.altair_chart``/``st.vega_lite_chart`` marshalling; then Streamlit's
  post-run ``gc.collect(2)`` (``runner.postScriptGC``), which holds the GIL after ``script_finished`` is
  queued; and every collection in the script thread by generation (``all_gc0``..``all_gc2``, from
  ``gc.callbacks``: the automatic ones and the post-run one);
* ``sent``: every ForwardMsg serialised for the WebSocket (time, type, bytes, serialisation time).

With ``REDRAW_PROBE_GC_FREEZE=1`` the first post-run collection is followed by ``gc.freeze()`` (the
objects alive then, mostly imported modules, are never scanned again): a trial of that remedy.
With PROFILE_DIR, every script run is also run under cProfile (one ``run-N.prof`` per run): slower, so the
timing and the profile come from separate server starts.
"""

from __future__ import annotations

import cProfile
import functools
import gc
import hashlib
import json
import os
import sys
import threading
import time
import types
from pathlib import Path

LOCK = threading.Lock()
LOG: Path | None = None
PROFILE_DIR: Path | None = None
FREEZE = os.environ.get("REDRAW_PROBE_GC_FREEZE") == "1"  # try gc.freeze() after the first run's collection
RUN = threading.local()  # the current script run's counters, per script thread
COUNT = {"runs": 0}


def emit(record: dict) -> None:
    with LOCK, LOG.open("a") as out:
        out.write(json.dumps(record) + "\n")


def add(name: str, seconds: float) -> None:
    """Add ``seconds`` to counter ``name`` of the script run in this thread (if any)."""
    counters = getattr(RUN, "counters", None)
    if counters is not None:
        counters[name] = counters.get(name, 0.0) + seconds
        counters[name + "_n"] = counters.get(name + "_n", 0) + 1


def timed(name: str, function):
    """``function`` adding its wall time to counter ``name`` (nested calls of the same counter count once)."""

    @functools.wraps(function)
    def wrapper(*args, **kwargs):
        depth = getattr(RUN, name, 0)
        setattr(RUN, name, depth + 1)
        start = time.perf_counter()
        try:
            return function(*args, **kwargs)
        finally:
            setattr(RUN, name, depth)
            if depth == 0:
                add(name, time.perf_counter() - start)

    return wrapper


def spec_hashed(chart_method):
    """``st.vega_lite_chart`` noting a hash of each spec without its data sets in the run's ``specs``: the
    browser builds a chart's Vega view again only when that part changes (else it swaps the data in)."""

    @functools.wraps(chart_method)
    def wrapper(self, *args, **kwargs):
        spec = next((a for a in (*args, kwargs.get("spec"), kwargs.get("data")) if isinstance(a, dict)), None)
        counters = getattr(RUN, "counters", None)
        if spec is not None and counters is not None:
            text = json.dumps({k: v for k, v in spec.items() if k != "datasets"}, sort_keys=True, default=str)
            counters.setdefault("specs", []).append(hashlib.sha1(text.encode()).hexdigest()[:10])
        return chart_method(self, *args, **kwargs)

    return wrapper


def install() -> None:
    import altair.utils.schemapi as schemapi
    import streamlit
    import streamlit.dataframe_util as dataframe_util
    import streamlit.elements.vega_charts as vega_charts
    import streamlit.runtime.app_session as app_session
    import streamlit.runtime.scriptrunner.script_runner as script_runner
    import streamlit.web.server.starlette.starlette_websocket as starlette_websocket

    schemapi.SchemaBase.to_dict = timed("altair_to_dict", schemapi.SchemaBase.to_dict)
    schemapi.validate_jsonschema = timed("altair_validate", schemapi.validate_jsonschema)
    dataframe_util.convert_anything_to_arrow_bytes = timed("arrow", dataframe_util.convert_anything_to_arrow_bytes)
    vega_charts._convert_altair_to_vega_lite_spec = timed("altair_spec",
                                                          vega_charts._convert_altair_to_vega_lite_spec)
    for name in ("altair_chart", "vega_lite_chart"):
        method = getattr(vega_charts.VegaChartsMixin, name)
        setattr(vega_charts.VegaChartsMixin, name, timed("chart_element", spec_hashed(method)))
        # `st.vega_lite_chart` was bound to the main DeltaGenerator at import: bind it again to the wrapper
        setattr(streamlit, name, getattr(streamlit._main, name))

    handle_backmsg = app_session.AppSession.handle_backmsg

    def probed_handle_backmsg(self, msg):
        emit({"kind": "backmsg", "t": time.time(), "type": msg.WhichOneof("type"), "bytes": msg.ByteSize(),
              "fragment": msg.rerun_script.fragment_id if msg.WhichOneof("type") == "rerun_script" else ""})
        return handle_backmsg(self, msg)

    app_session.AppSession.handle_backmsg = probed_handle_backmsg

    run_script = script_runner.ScriptRunner._run_script

    def probed_run_script(self, rerun_data):
        RUN.counters = {}
        COUNT["runs"] += 1
        number = COUNT["runs"]
        start, cpu0 = time.time(), time.thread_time()
        profile = cProfile.Profile() if PROFILE_DIR else None
        if profile:
            profile.enable()
        try:
            return run_script(self, rerun_data)
        finally:
            if profile:
                profile.disable()
                profile.dump_stats(str(PROFILE_DIR / f"run-{number}.prof"))
            try:
                server_seconds = self._session_state["_server_seconds"]
            except Exception:  # not set on a fragment run or a failed run
                server_seconds = None
            emit({"kind": "run", "n": number, "start": start, "end": time.time(), "cpu": time.thread_time() - cpu0,
                  "page": rerun_data.page_name or rerun_data.page_script_hash,
                  "fragment": bool(rerun_data.fragment_id_queue), "server_seconds": server_seconds,
                  **RUN.counters})
            RUN.counters = None

    script_runner.ScriptRunner._run_script = probed_run_script

    def probed_collect(generation=2):
        start, cpu0 = time.perf_counter(), time.thread_time()
        found = gc.collect(generation)
        add("gc", time.perf_counter() - start)
        add("gc_cpu", time.thread_time() - cpu0)
        if FREEZE and not COUNT.get("frozen"):  # once, after the first run: the imports' objects
            gc.freeze()  # (not gc.get_freeze_count(): it walks the frozen objects, ~40 ms here)
            COUNT["frozen"] = True
        return found

    script_runner.gc = types.SimpleNamespace(collect=probed_collect)

    def on_gc(phase, info):  # every collection, automatic or explicit, in the thread that triggered it
        if phase == "start":
            RUN.gc_started = time.perf_counter()
        elif getattr(RUN, "gc_started", None) is not None:
            add(f"all_gc{info['generation']}", time.perf_counter() - RUN.gc_started)
            RUN.gc_started = None

    gc.callbacks.append(on_gc)

    serialize = starlette_websocket.serialize_forward_msg

    def probed_serialize(msg):
        start = time.perf_counter()
        payload = serialize(msg)
        kind = msg.WhichOneof("type")
        emit({"kind": "sent", "t": time.time(), "type": kind, "bytes": len(payload),
              "finished": msg.script_finished if kind == "script_finished" else None,
              "serialize": time.perf_counter() - start})
        return payload

    starlette_websocket.serialize_forward_msg = probed_serialize


def main() -> None:
    global LOG, PROFILE_DIR
    split = sys.argv.index("--")
    mine, streamlit_args = sys.argv[1:split], sys.argv[split + 1:]
    LOG = Path(mine[0])
    if len(mine) > 1:
        PROFILE_DIR = Path(mine[1])
        PROFILE_DIR.mkdir(parents=True, exist_ok=True)
    install()
    from streamlit.web import cli

    sys.argv = ["streamlit", *streamlit_args]
    cli.main()


if __name__ == "__main__":
    main()
