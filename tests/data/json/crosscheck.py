"""Cross-checks cjx's JSON mapping against python3-protobuf's json_format.

Usage: crosscheck.py PYGEN_DIR TYPE OUR_JSON OUR_BIN PY_JSON_OUT

Parses OUR_JSON (printed by cjx) as message TYPE with the reference
implementation and checks that it serializes to exactly OUR_BIN (packed by
protobuf-c from the same message). Then writes the reference's own JSON for
OUR_BIN to PY_JSON_OUT, so that the caller can check cjx reads it back.
Exits 0 on success, 1 on a mismatch or a rejected document.
"""
import importlib
import pkgutil
import sys


def import_all(pygen):
    sys.path.insert(0, pygen)
    for info in pkgutil.walk_packages([pygen]):
        if info.name.endswith("_pb2"):
            importlib.import_module(info.name)
    for sub in ("cjx.v1",):
        pkg = importlib.import_module(sub)
        for info in pkgutil.iter_modules(pkg.__path__):
            if info.name.endswith("_pb2"):
                importlib.import_module(sub + "." + info.name)


def main(argv):
    pygen, type_name, our_json, our_bin, py_json_out = argv[1:6]
    import_all(pygen)
    from google.protobuf import json_format, symbol_database

    cls = symbol_database.Default().GetSymbol(type_name)
    with open(our_json, "r", encoding="utf-8") as f:
        text = f.read()
    with open(our_bin, "rb") as f:
        expected = f.read()
    try:
        msg = json_format.Parse(text, cls())
    except json_format.ParseError as e:
        print("reference parser rejected our JSON: %s\n%s" % (e, text))
        return 1
    got = msg.SerializeToString(deterministic=True)
    if got != expected:
        print("bytes differ for %s\n ours:      %s\n reference: %s\n json: %s"
              % (type_name, expected.hex(), got.hex(), text))
        return 1
    ref = cls.FromString(expected)
    with open(py_json_out, "w", encoding="utf-8") as f:
        f.write(json_format.MessageToJson(ref))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
