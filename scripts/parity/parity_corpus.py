#!/usr/bin/env python3
"""Check that zoorepro accepts, refuses and preprocesses a corpus exactly as Pillow does.

Issue 18 ("jpeg-fidelity"; --corpus jpeg, the default: tests/jpeg-corpus, every preset) and
issue 35 item 11 (--corpus nonjpeg: tests/nonjpeg-corpus, PNG/TIFF/GIF/BMP/WebP, the presets
torchvision and keras-caffe). For every file and every preset (Pillow compat 13):

  Pillow side    what the oracle does: Image.open(p).convert('RGB') with the default
                 MAX_IMAGE_PIXELS and LOAD_TRUNCATED_IMAGES = False, then the preset's
                 resize / crop / normalisation (scripts/parity/parity.py). Accepted -> tensor;
                 refused -> exception type and message. Each file is decoded once, in a
                 long-lived worker process that is killed and replaced when a file takes
                 longer than --pillow-timeout ("Pillow timed out").
  zoorepro side  per preset, ONE `preprocess --recipe P --pillow-compat 13 --skip-failed`
                 call over every file, in a shuffled order (--seed, printed): a file it names
                 as skipped is refused (its message), every other file is accepted and its
                 row of the .npy is its tensor. So each refused file is read right after
                 other files, accepted or not, and nothing may depend on which image came
                 before: a tensor or an acceptance that did is a disagreement with Pillow.
                 A call that exits other than 0/2, runs past --batch-timeout or writes the
                 wrong number of rows is a zoorepro failure; that preset is then checked
                 per file, to name the file.
                 --per-file: one call per file and preset instead (a fresh process each):
                 exit 0 = accepted (the .npy is read back), exit 2 = refused (its message);
                 any other exit status, or a call past --timeout, fails the check.
  compare        acceptance equal; when both accept, tensors bit-identical (float32 bit
                 patterns equal; the max abs diff is reported otherwise). A file Pillow accepts
                 that zoorepro refuses cleanly (exit status 2, one message) is counted as
                 unsupported, not as a disagreement, when the corpus's known-unsupported.tsv
                 lists it with the reason; unlisted, it is a disagreement. Listed files that
                 zoorepro decodes again are reported as stale entries.

With --per-file (and for a preset whose one call failed), per preset then ONE `preprocess`
call over all files both accepted, in a shuffled order, each row compared with the per-file
zoorepro tensor, and one two-image call per file refused by both (an accepted file first,
then the refused one), which must still refuse it. The default's one call per preset checks
both at once, in 2 x 10 processes where --per-file starts about 40,000 (CI's time: 202 s ->
see CONTRIBUTING.md#per-stage-time-budget).

Prints per preset: accepted by both / refused by both / accepted only by Pillow / accepted
only by zoorepro / tensor mismatches / zoorepro failures, every disagreement, and the refusal
messages side by side grouped by Pillow's message (informational). --json writes all of it.
Exit status 0 only when there is no disagreement.
"""
import argparse
import glob
import hashlib
import json
import os
import random
import re
import select
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import warnings
from concurrent.futures import ThreadPoolExecutor

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import parity  # noqa: E402  (scripts/parity/parity.py: the Pillow + NumPy reference of every preset)

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
# --corpus NAME -> (folders checked, default presets or None for all, known-unsupported list)
CORPORA = {
    name: ([os.path.join(REPO, "tests", name + "-corpus", d) for d in ("files", "made")],
           presets, os.path.join(REPO, "tests", name + "-corpus", "known-unsupported.tsv"))
    for name, presets in (("jpeg", None), ("nonjpeg", ["torchvision", "keras-caffe"]))
}
PILLOW_COMPAT = "13"  # --pillow-compat; "simd" with a Python whose PIL is Pillow-SIMD
REFERENCE = {"12": None, "13": "13.0.0", "simd": "12.1.1.post0"}

# Disagreement kinds, in report order.
KINDS = ["pillow_only", "zoorepro_only", "mismatch", "zoorepro_failed", "pillow_timeout"]
KIND_TEXT = {
    "pillow_only": "accepted only by Pillow",
    "zoorepro_only": "accepted only by zoorepro",
    "mismatch": "tensor mismatch",
    "zoorepro_failed": "zoorepro failed (exit status not 0/2, or timed out)",
    "pillow_timeout": "Pillow timed out (or its worker died)",
}


# ---------------------------------------------------------------------------------------------
# Pillow worker (runs in a child process: `parity_corpus.py --pillow-worker PRESET,...`)

def pillow_worker(presets):
    """Read 'PATH<TAB>OUTDIR' lines; decode PATH once, write OUTDIR/<preset>.npy for each
    preset (none where OUTDIR is empty), answer one JSON line: {"ok": true, "sha256": {preset:
    digest of the float32 tensor}, "shape": {preset: shape}} or {"ok": false, "type": ...,
    "message": ...}. The digests spare the one-call check writing and reading back 2.4 GB of
    tensors (4,010 of 600 KB) that it only compares."""
    from PIL import Image, ImageFile
    assert not ImageFile.LOAD_TRUNCATED_IMAGES
    warnings.simplefilter("ignore")          # warnings (e.g. DecompressionBombWarning) are not errors
    reply = os.fdopen(os.dup(1), "w")
    os.dup2(2, 1)                            # anything else printed goes to stderr
    for line in sys.stdin:
        path, outdir = line.rstrip("\n").split("\t")
        try:
            img = parity.load_rgb(path)
            tensors = {name: parity.preset_tensor_from_rgb(img, name) for name in presets}
        except Exception as e:  # noqa: BLE001  (any refusal is an outcome to compare)
            answer = {"ok": False, "type": type(e).__name__, "message": str(e)}
        else:
            answer = {"ok": True, "sha256": {}, "shape": {}}
            for name, t in tensors.items():
                t = np.ascontiguousarray(t, np.float32)
                answer["sha256"][name], answer["shape"][name] = tensor_sha(t), list(t.shape)
                if outdir:
                    np.save(os.path.join(outdir, name + ".npy"), t)
        reply.write(json.dumps(answer) + "\n")
        reply.flush()


class PillowProcess:
    """A long-lived Pillow worker with a per-file timeout; restarted after a timeout or crash."""

    def __init__(self, python, presets):
        self.cmd = [python, os.path.abspath(__file__), "--pillow-worker", ",".join(presets)]
        self.proc = None

    def _start(self):
        self.proc = subprocess.Popen(self.cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.DEVNULL)

    def close(self):
        if self.proc is not None:
            self.proc.kill()
            self.proc.wait()
            self.proc = None

    def run(self, path, outdir, timeout):
        """Pillow's outcome for `path`; its tensors saved in `outdir` unless it is empty."""
        if self.proc is None:
            self._start()
        try:
            self.proc.stdin.write(("%s\t%s\n" % (path, outdir)).encode())
            self.proc.stdin.flush()
        except BrokenPipeError:
            self.close()
            return {"ok": False, "type": "WorkerCrash", "message": "Pillow worker died",
                    "timeout": True}
        fd, buf, deadline = self.proc.stdout.fileno(), b"", time.monotonic() + timeout
        while not buf.endswith(b"\n"):
            left = deadline - time.monotonic()
            ready = select.select([fd], [], [], max(left, 0))[0] if left > 0 else []
            if not ready:
                self.close()
                return {"ok": False, "type": "Timeout", "message": "Pillow timed out",
                        "timeout": True}
            chunk = os.read(fd, 65536)
            if not chunk:
                code = self.proc.wait()
                self.close()
                return {"ok": False, "type": "WorkerCrash", "timeout": True,
                        "message": "Pillow worker died (exit status %d)" % code}
            buf += chunk
        return json.loads(buf)


# ---------------------------------------------------------------------------------------------
# zoorepro side

def run_zoorepro(binary, preset, out, images, timeout):
    """One preprocess call. Returns (status, message): status is 'accepted', 'refused' or
    'failed'; message is the last stderr line (refused) or what went wrong (failed)."""
    cmd = [binary, "preprocess", "--recipe", preset, "--pillow-compat", PILLOW_COMPAT,
           "--out", out] + list(images)
    try:
        run = subprocess.run(cmd, capture_output=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return "failed", "timed out after %ds" % timeout
    err = run.stderr.decode("utf-8", "replace").strip()
    last = err.splitlines()[-1] if err else ""
    if run.returncode == 0:
        return "accepted", ""
    if run.returncode == 2:
        return "refused", last
    return "failed", "exit status %d: %s" % (run.returncode, last[-300:])


def skipped_paths(stderr, files):
    """{path: message} from `--skip-failed`'s "skipped: PATH: why" lines, PATH one of `files`
    (the path is matched whole, so a ': ' inside it cannot cut it short)."""
    known, out = set(files), {}
    for line in stderr.splitlines():
        if not line.startswith("skipped: "):
            continue
        rest = line[len("skipped: "):]
        at = rest.find(": ")
        while at != -1 and rest[:at] not in known:
            at = rest.find(": ", at + 2)
        if at != -1:
            out[rest[:at]] = rest[at + 2:]
    return out


def one_call_outcomes(name, files, args, tmp):
    """Preset `name` over every file in ONE shuffled `preprocess --skip-failed` call.

    Returns ({path: zoorepro's outcome}, None), an outcome being {"zoorepro": "accepted" or
    "refused", "zoorepro_message", and for an accepted file "sha256" and "shape" of its row},
    or (None, why) when the call itself failed: an exit status other than 0 and 2, a timeout,
    or a .npy whose rows are not the files it did not name as skipped."""
    order = list(files)
    random.Random("%d/%s" % (args.seed, name)).shuffle(order)
    out = os.path.join(tmp, "one-call-%s.npy" % name)
    cmd = [args.bin, "preprocess", "--recipe", name, "--pillow-compat", PILLOW_COMPAT,
           "--skip-failed", "--out", out] + order
    try:
        run = subprocess.run(cmd, capture_output=True, timeout=args.batch_timeout)
    except subprocess.TimeoutExpired:
        return None, "timed out after %ds" % args.batch_timeout
    err = run.stderr.decode("utf-8", "replace")
    last = err.strip().splitlines()[-1][-300:] if err.strip() else ""
    if run.returncode not in (0, 2):
        return None, "exit status %d: %s" % (run.returncode, last)
    skipped = skipped_paths(err, order)
    if (run.returncode == 2) != bool(skipped):
        return None, "exit status %d with %d files named as skipped: %s" % (
            run.returncode, len(skipped), last)
    outcomes = {p: {"zoorepro": "refused", "zoorepro_message": m} for p, m in skipped.items()}
    accepted = [p for p in order if p not in skipped]
    if accepted:
        if not os.path.exists(out):
            return None, "no .npy written for %d accepted files: %s" % (len(accepted), last)
        rows = np.load(out, mmap_mode="r")
        if rows.dtype != np.float32 or rows.shape[0] != len(accepted):
            return None, "%s rows of %s for %d accepted files" % (rows.shape[:1], rows.dtype,
                                                                 len(accepted))
        for i, path in enumerate(accepted):
            outcomes[path] = {"zoorepro": "accepted", "zoorepro_message": "",
                              "sha256": tensor_sha(rows[i]), "shape": rows.shape[1:]}
        del rows
        os.remove(out)
    return outcomes, None


def one_call_checks(files, presets, args):
    """({preset: outcomes, or None where the one call failed}, [a batch report per failed call]):
    a failed call is a disagreement of its own, and its preset is then checked per file, to
    name the files."""
    calls, failed, tmp = {}, [], tempfile.mkdtemp(prefix="parity-corpus-one-call-")
    print("one shuffled --skip-failed call per preset over every file (seed %d):" % args.seed)
    try:
        for name in presets:
            start = time.monotonic()
            outcomes, why = one_call_outcomes(name, files, args, tmp)
            calls[name] = outcomes
            if outcomes is None:
                print("  %-28s FAILED (%s): checked per file instead" % (name, why))
                failed.append({"preset": name, "files": len(files), "status": "failed",
                               "message": "the one call over every file: " + why,
                               "row_mismatches": []})
            else:
                refused = sum(o["zoorepro"] == "refused" for o in outcomes.values())
                print("  %-28s accepted %d, refused %d, %.1fs" % (
                    name, len(files) - refused, refused, time.monotonic() - start))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return calls, failed


def with_pillow(outcome, pil, path, name, args, tmp):
    """A one-call outcome judged against Pillow's digest and shape in `pil`: its kind, and for
    a mismatch the max abs diff (the file alone through zoorepro and through parity.py here,
    as neither tensor was kept)."""
    r = dict(outcome)
    r["shape"] = list(r["shape"])
    if r["shape"] != pil["shape"][name]:
        r["kind"], r["max_abs_diff"] = "mismatch", "shape: zoorepro %s, Pillow %s" % (
            r["shape"], pil["shape"][name])
    elif r["sha256"] == pil["sha256"][name]:
        r["kind"] = "both_accepted"
    else:
        r["kind"] = "mismatch"
        alone = os.path.join(tmp, "alone-%s.npy" % name)
        status, msg = run_zoorepro(args.bin, name, alone, [path], args.timeout)
        want = np.ascontiguousarray(
            parity.preset_tensor_from_rgb(parity.load_rgb(path), name), np.float32)
        r["max_abs_diff"] = (compare(np.load(alone), want)[1] if status == "accepted"
                             else "alone: %s %s" % (status, msg))
    return r


def tensor_sha(a):
    return hashlib.sha256(np.ascontiguousarray(a).tobytes()).hexdigest()


def compare(got, want):
    """(identical, max_abs_diff or a shape note) for zoorepro's [1, ...] vs Pillow's [...]."""
    if got.dtype != np.float32 or got.shape != (1,) + want.shape:
        return False, "shape/dtype: zoorepro %s %s, Pillow %s float32" % (got.shape, got.dtype,
                                                                           want.shape)
    got = got[0]
    if np.array_equal(got.view(np.uint32), want.view(np.uint32)):
        return True, 0.0
    return False, float(np.nanmax(np.abs(got.astype(np.float64) - want.astype(np.float64))))


def normalise_message(msg, path=None):
    """A refusal message without the file's own name and with numbers as N, for grouping."""
    msg = re.sub(r"^zoorepro: error: ", "", msg)
    if path:
        msg = msg.replace(path, "FILE").replace(os.path.basename(path), "FILE")
    return re.sub(r"\d+", "N", msg)


def cause(msg):
    """Rough class of a refusal message (issue 18 item 6), for the side-by-side table."""
    m = msg.lower()
    if "truncated" in m or "premature end" in m:
        return "truncated"
    if "broken data stream" in m or "corrupt" in m or "bogus" in m or "invalid" in m:
        return "broken"
    if "unsupported" in m or "not supported" in m or "cannot identify" in m \
            or "unrecognized" in m or "decompression bomb" in m or "exceeds limit" in m:
        return "unsupported"
    return "other"


# ---------------------------------------------------------------------------------------------
# the check

def list_files(specs):
    out = []
    for spec in specs:
        if os.path.isdir(spec):
            out += sorted(os.path.join(spec, f) for f in os.listdir(spec)
                          if os.path.isfile(os.path.join(spec, f)))
        elif os.path.isfile(spec):
            out.append(spec)
        else:
            found = sorted(f for f in glob.glob(spec) if os.path.isfile(f))
            if not found:
                sys.exit("no file matches %s" % spec)
            out += found
    seen, unique = set(), []
    for f in out:
        if f not in seen:
            seen.add(f)
            unique.append(f)
    return unique


def check_file(path, presets, args, pillow, tmp, calls):
    """All presets for one file: {'pillow': outcome, 'presets': {name: record}}; zoorepro's
    outcome from the preset's one call (`calls`), or from a call of its own."""
    per_file = [name for name in presets if calls.get(name) is None]
    pil = pillow.run(path, tmp if per_file else "", args.pillow_timeout)
    rec = {"pillow": {k: v for k, v in pil.items() if k not in ("sha256", "shape")},
           "presets": {}}
    for name in presets:
        out = os.path.join(tmp, "z-%s.npy" % name)
        if name not in per_file:
            r = dict(calls[name][path])
            if pil["ok"] and r["zoorepro"] == "accepted":
                rec["presets"][name] = with_pillow(r, pil, path, name, args, tmp)
                if per_file:
                    os.remove(os.path.join(tmp, name + ".npy"))
                continue
            r.pop("sha256", None)
            r.pop("shape", None)
            status = r["zoorepro"]
        else:
            status, msg = run_zoorepro(args.bin, name, out, [path], args.timeout)
            r = {"zoorepro": status, "zoorepro_message": msg}
        if pil.get("timeout"):
            r["kind"] = "pillow_timeout"
        elif status == "failed":
            r["kind"] = "zoorepro_failed"
        elif pil["ok"] and status == "refused":
            known = os.path.basename(path) in args.known_unsupported
            r["kind"] = "unsupported" if known else "pillow_only"
        elif not pil["ok"] and status == "accepted":
            r["kind"] = "zoorepro_only"
        elif pil["ok"]:
            got = np.load(out)
            want = np.load(os.path.join(tmp, name + ".npy"))
            same, diff = compare(got, want)
            r["sha256"] = tensor_sha(got[0]) if got.shape[:1] == (1,) else None
            if same:
                r["kind"] = "both_accepted"
            else:
                r["kind"] = "mismatch"
                r["max_abs_diff"] = diff
        else:
            r["kind"] = "both_refused"
        rec["presets"][name] = r
        for f in (out, os.path.join(tmp, name + ".npy")):
            if os.path.exists(f):
                os.remove(f)
    return rec


def per_file_checks(files, presets, args, calls):
    results = {}
    lock = threading.Lock()
    local = threading.local()
    workers, tmps = [], []
    done = [0]
    t0 = time.monotonic()

    def job(path):
        if not hasattr(local, "pillow"):
            local.pillow = PillowProcess(args.python, presets)
            local.tmp = tempfile.mkdtemp(prefix="parity-corpus-")
            with lock:
                workers.append(local.pillow)
                tmps.append(local.tmp)
        rec = check_file(path, presets, args, local.pillow, local.tmp, calls)
        with lock:
            results[path] = rec
            done[0] += 1
            if done[0] % 250 == 0 or done[0] == len(files):
                print("  ... %d/%d files, %.0fs" % (done[0], len(files), time.monotonic() - t0),
                      file=sys.stderr, flush=True)

    try:
        with ThreadPoolExecutor(max_workers=args.jobs) as pool:
            list(pool.map(job, files))
    finally:
        for w in workers:
            w.close()
        for t in tmps:
            shutil.rmtree(t, ignore_errors=True)
    return results


def batch_check(name, files, results, args, tmp):
    """One shuffled call over `files` for preset `name`; rows vs the per-file tensors."""
    order = list(files)
    random.Random("%d/%s" % (args.seed, name)).shuffle(order)
    out = os.path.join(tmp, "batch-%s.npy" % name)
    status, msg = run_zoorepro(args.bin, name, out, order, args.batch_timeout)
    rep = {"preset": name, "files": len(order), "status": status, "message": msg,
           "row_mismatches": []}
    if status != "accepted":
        return rep
    got = np.load(out, mmap_mode="r")
    if got.shape[0] != len(order):
        rep["status"] = "failed"
        rep["message"] = "%d rows for %d files" % (got.shape[0], len(order))
        return rep
    for i, path in enumerate(order):
        if tensor_sha(got[i]) != results[path]["presets"][name]["sha256"]:
            one = os.path.join(tmp, "one.npy")
            run_zoorepro(args.bin, name, one, [path], args.timeout)
            alone = np.load(one)[0]
            diff = float(np.nanmax(np.abs(np.asarray(got[i], np.float64) - alone)))
            rep["row_mismatches"].append({"file": path, "row": i, "max_abs_diff": diff,
                                          "after": order[i - 1] if i else None})
    del got
    os.remove(out)
    return rep


def pair_check(name, refused, first_ok, args, tmp):
    """Each file refused alone must still be refused right after an accepted image."""
    def one(job):
        i, path = job
        out = os.path.join(tmp, "pair-%s-%d.npy" % (name, i))
        status, msg = run_zoorepro(args.bin, name, out, [first_ok, path], args.timeout)
        if os.path.exists(out):
            os.remove(out)
        if status != "refused":
            return {"file": path, "preset": name, "after": first_ok, "status": status,
                    "message": msg}
        return None

    with ThreadPoolExecutor(max_workers=args.jobs) as pool:
        return [r for r in pool.map(one, enumerate(refused)) if r]


def read_known_unsupported(path):
    """{file name: reason} from a TSV with the columns file, reason ('#' lines are comments)."""
    known = {}
    if os.path.exists(path):
        with open(path) as f:
            for line in f:
                if line.strip() and not line.startswith("#"):
                    name, reason = line.rstrip("\n").split("\t", 1)
                    if name != "file":
                        known[name] = reason
    return known


def outcome_text(pil):
    if pil["ok"]:
        return "accepted"
    return "%s: %s" % (pil["type"], pil["message"])


def main():
    global PILLOW_COMPAT
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--pillow-worker", metavar="PRESETS", help=argparse.SUPPRESS)
    ap.add_argument("--bin", help="the zoorepro binary")
    ap.add_argument("--corpus", choices=sorted(CORPORA), default="jpeg",
                    help="which corpus: its folders, default presets and known-unsupported.tsv "
                    "[jpeg]")
    ap.add_argument("--files", nargs="+", metavar="GLOB|FILE|DIR",
                    help="files to check [default: tests/CORPUS-corpus/files and made]")
    ap.add_argument("--presets", help="comma-separated presets [default: all for jpeg, "
                    "torchvision,keras-caffe for nonjpeg]")
    ap.add_argument("--jobs", type=int, default=2, help="files checked in parallel [2]")
    ap.add_argument("--per-file", action="store_true",
                    help="one zoorepro process per file and preset (each in a fresh process), "
                    "then the shuffled and two-image calls, instead of one call per preset")
    ap.add_argument("--seed", type=int, default=18, help="shuffle seed of the batch calls [18]")
    ap.add_argument("--timeout", type=int, default=60,
                    help="seconds per zoorepro call of one or two files [60]")
    ap.add_argument("--batch-timeout", type=int, default=900,
                    help="seconds per call over every file of a preset [900]")
    ap.add_argument("--pillow-timeout", type=int, default=120,
                    help="seconds Pillow may take on one file, all presets [120]")
    ap.add_argument("--json", metavar="FILE", help="write the full report here")
    ap.add_argument("--pillow-compat", choices=sorted(REFERENCE), default=PILLOW_COMPAT,
                    help="what zoorepro reproduces: 13 (Pillow 13.0.0) [default], or simd with "
                    "this script run by a Python whose PIL is Pillow-SIMD 12.1.1.post0")
    ap.add_argument("--python", default=sys.executable, help=argparse.SUPPRESS)
    args = ap.parse_args()

    if args.pillow_worker:
        pillow_worker(args.pillow_worker.split(","))
        return
    PILLOW_COMPAT = args.pillow_compat
    if not args.bin:
        ap.error("--bin is required")
    dirs, corpus_presets, known_path = CORPORA[args.corpus]
    args.known_unsupported = read_known_unsupported(known_path)
    presets = (args.presets.split(",") if args.presets
               else corpus_presets or list(parity.PRESETS))
    unknown = [p for p in presets if p not in parity.PRESETS]
    if unknown:
        ap.error("unknown preset(s): %s" % ", ".join(unknown))
    files = list_files(args.files or [d for d in dirs if os.path.isdir(d)])
    if not files:
        sys.exit("no files to check")

    import PIL
    t0 = time.monotonic()
    print("Pillow %s, NumPy %s, zoorepro %s, --pillow-compat %s, %d files, %d presets, "
          "jobs %d, seed %d" % (PIL.__version__, np.__version__, args.bin, PILLOW_COMPAT,
                                len(files), len(presets), args.jobs, args.seed))
    reference = REFERENCE[PILLOW_COMPAT]
    if reference and PIL.__version__ != reference:
        print("WARNING: the reference is Pillow %s, this is %s" % (reference, PIL.__version__))

    calls, failed_calls = ({}, []) if args.per_file else one_call_checks(files, presets, args)
    results = per_file_checks(files, presets, args, calls)

    # per-file summary
    disagreements = []
    print("\nper file and preset (%d files):" % len(files))
    print("  %-28s %6s %6s %6s %6s %6s %6s %6s %6s" % ("preset", "both+", "both-", "unsup",
                                                      "P only", "Z only", "tensor", "Zfail",
                                                      "Ptime"))
    summary = {}
    for name in presets:
        c = {k: 0 for k in ["both_accepted", "both_refused", "unsupported"] + KINDS}
        for path in files:
            r = results[path]["presets"][name]
            c[r["kind"]] += 1
            if r["kind"] in KINDS:
                disagreements.append({"file": path, "preset": name, "kind": r["kind"],
                                      "pillow": outcome_text(results[path]["pillow"]),
                                      "zoorepro": r["zoorepro"], "zoorepro_message":
                                      r["zoorepro_message"], "max_abs_diff":
                                      r.get("max_abs_diff")})
        summary[name] = c
        print("  %-28s %6d %6d %6d %6d %6d %6d %6d %6d" % (
            name, c["both_accepted"], c["both_refused"], c["unsupported"], c["pillow_only"],
            c["zoorepro_only"], c["mismatch"], c["zoorepro_failed"], c["pillow_timeout"]))
    unsupported = sorted({os.path.basename(p) for p in files for name in presets
                          if results[p]["presets"][name]["kind"] == "unsupported"})
    if unsupported:
        print("\nunsupported (Pillow decodes, zoorepro refuses cleanly; known-unsupported.tsv):")
        for f in unsupported:
            print("  %s: %s" % (f, args.known_unsupported[f]))
    checked = {os.path.basename(p) for p in files}
    stale = sorted(f for f in args.known_unsupported
                   if f in checked and f not in unsupported)
    if stale:
        print("\nlisted as unsupported but not refused as such (a stale entry, or a "
              "disagreement below): %s" % ", ".join(stale))

    # shuffled batch calls and refusals after another image, for the presets checked per file
    # (the one call per preset is both)
    batches, pairs = list(failed_calls), []
    per_file = [name for name in presets if calls.get(name) is None]
    tmp = tempfile.mkdtemp(prefix="parity-corpus-batch-")
    try:
        if per_file:
            print("\nshuffled batch calls (seed %d):" % args.seed)
        for name in per_file:
            both = [f for f in files if results[f]["presets"][name]["kind"] == "both_accepted"]
            if not both:
                continue
            rep = batch_check(name, both, results, args, tmp)
            batches.append(rep)
            print("  %-28s files=%d %s%s rows differing from the per-file call=%d" % (
                name, rep["files"], rep["status"],
                (" (%s)" % rep["message"]) if rep["message"] else "", len(rep["row_mismatches"])))
        if per_file:
            print("two-image calls (an accepted file, then a file refused alone):")
        for name in per_file:
            both_ok = [f for f in files
                       if results[f]["presets"][name]["kind"] == "both_accepted"]
            refused = [f for f in files if results[f]["presets"][name]["kind"] == "both_refused"]
            if both_ok and refused:
                bad = pair_check(name, refused, both_ok[0], args, tmp)
                pairs += bad
                print("  %-28s %d files, each after %s: not refused %d"
                      % (name, len(refused), os.path.basename(both_ok[0]), len(bad)))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)

    # every disagreement
    batch_bad = [b for b in batches if b["status"] != "accepted" or b["row_mismatches"]]
    n_bad = len(disagreements) + len(batch_bad) + len(pairs)
    if disagreements:
        print("\ndisagreements (file, preset: Pillow's outcome | zoorepro's outcome):")
        by_file = {}
        for d in disagreements:
            by_file.setdefault(d["file"], []).append(d)
        for path, ds in by_file.items():
            pil = outcome_text(results[path]["pillow"])
            kinds = sorted({d["kind"] for d in ds})
            names = [d["preset"] for d in ds]
            zo = sorted({(d["zoorepro"] + (": " + normalise_message(d["zoorepro_message"], path)
                                           if d["zoorepro_message"] else "")
                          + ("; max abs diff %s" % d["max_abs_diff"]
                             if d["max_abs_diff"] is not None else ""))
                         for d in ds})
            print("  %s [%s] %s" % (os.path.relpath(path), ",".join(KIND_TEXT[k] for k in kinds),
                                    "all presets" if len(names) == len(presets)
                                    else ",".join(names)))
            print("      Pillow:   %s" % pil)
            for z in zo:
                print("      zoorepro: %s" % z)
    for b in batch_bad:
        print("\nbatch %s: %s %s" % (b["preset"], b["status"], b["message"]))
        for m in b["row_mismatches"]:
            print("  %s (row %d, listed after %s): max abs diff %s vs its own call" % (
                os.path.relpath(m["file"]), m["row"],
                os.path.relpath(m["after"]) if m["after"] else "-", m["max_abs_diff"]))
    if pairs:
        print("\nrefused alone, but not in a two-image call after an accepted file:")
        for p in pairs:
            print("  %s (%s, after %s): %s%s" % (
                os.path.relpath(p["file"]), p["preset"], os.path.basename(p["after"]),
                p["status"], (" " + p["message"]) if p["message"] else ""))

    # refusal messages side by side (informational; issue 18 item 6)
    groups = {}
    for path in files:
        pil = results[path]["pillow"]
        if pil["ok"]:
            continue
        key = "%s: %s" % (pil["type"], normalise_message(pil["message"], path))
        g = groups.setdefault(key, {"files": 0, "zoorepro": {}})
        g["files"] += 1
        for name in presets:
            r = results[path]["presets"][name]
            z = r["zoorepro"] + (": " + normalise_message(r["zoorepro_message"], path)
                                 if r["zoorepro_message"] else "")
            g["zoorepro"][z] = g["zoorepro"].get(z, 0) + 1
    if groups:
        print("\nrefusal messages, grouped by Pillow's (count = files; zoorepro's count = "
              "file x preset calls; [cause Pillow/zoorepro]):")
        for key, g in sorted(groups.items(), key=lambda kv: -kv[1]["files"]):
            print("  %5d  Pillow   %s  [%s]" % (g["files"], key, cause(key)))
            for z, n in sorted(g["zoorepro"].items(), key=lambda kv: -kv[1]):
                print("  %5d    zoorepro %s  [%s]" % (n, z, cause(z)))

    elapsed = time.monotonic() - t0
    total = {k: sum(c[k] for c in summary.values()) for k in next(iter(summary.values()))}
    print("\nfile x preset: identical %d, refused by both %d, unsupported %d, disagreements %d"
          % (total["both_accepted"], total["both_refused"], total["unsupported"],
             sum(total[k] for k in KINDS)))
    print("%d files, %d presets, %.0fs: %s" % (
        len(files), len(presets), elapsed,
        "no disagreement" if n_bad == 0 else
        "%d disagreements (%d file x preset, %d batch, %d after-another-image)"
        % (n_bad, len(disagreements), len(batch_bad), len(pairs))))

    if args.json:
        report = {
            "pillow": PIL.__version__, "numpy": np.__version__, "bin": args.bin,
            "pillow_compat": PILLOW_COMPAT, "seed": args.seed, "presets": presets,
            "files": len(files), "seconds": round(elapsed, 1), "summary": summary,
            "one_call": {name: calls.get(name) is not None for name in presets},
            "disagreements": disagreements, "batches": batches, "after_another_image": pairs,
            "refusal_groups": groups,
            "results": {os.path.relpath(p): r for p, r in results.items()},
        }
        with open(args.json, "w") as f:
            json.dump(report, f, indent=1)
    sys.exit(0 if n_bad == 0 else 1)


if __name__ == "__main__":
    main()
