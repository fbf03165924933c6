#!/usr/bin/env python3
"""Writes the seed corpora under fuzz/corpus/<target>/ and the dictionaries under fuzz/dict/.

The seeds are small, hand-made inputs that reach each parser's main branches; AFL++ mutates
from there. Run it again after changing a seed here: `python3 fuzz/make_corpus.py`.
The files it writes are committed, so CI does not need Python.
"""

import base64
import hashlib
import hmac
import json
import io
import struct
import zipfile
import zlib
from pathlib import Path

HERE = Path(__file__).resolve().parent
CORPUS = HERE / "corpus"
DICT = HERE / "dict"


def write(target, name, data):
    d = CORPUS / target
    d.mkdir(parents=True, exist_ok=True)
    if isinstance(data, str):
        data = data.encode()
    (d / name).write_bytes(data)


# --- rules: keys and folders, good and bad ----------------------------------------------
RULES = {
    "key": "a.png",
    "nested": "folder/sub/photo.JPG",
    "folder_slash": "test/uploads/",
    "dotfile": "a/.png",
    "traversal": "../x.png",
    "dot_slash": "a/./b.png",
    "double_slash": "a//b.png",
    "absolute": "/etc/passwd.txt",
    "no_ext": "folder/readme",
    "bad_ext": "x.exe",
    "unicode": "caf\u00e9/\u65e5\u672c/\u5199\u771f.webp",
    "c1_control": "a\u0085b.png",
    "nul": "a\u0000.png",
    "tab": "a\tb.png",
    "long": "d/" * 200 + "x.png",
    "trailing_dot": "a./b.png",
}
for name, text in RULES.items():
    write("rules", name, text)
write("rules", "not_utf8", b"a\xff.png")


# --- cursor: Jivox cursors (f:/d:name) and Clinch tokens (JSON pair), base64url ----------
def b64(raw):
    return base64.urlsafe_b64encode(raw).rstrip(b"=")


write("cursor", "file", b64(b"f:b.png"))
write("cursor", "folder", b64(b"d:sub"))
write("cursor", "token", b64(b'["a","b.png"]'))
write("cursor", "token_escapes", b64(b'["a\\u0000","\\ud83d\\ude00.png"]'))
write("cursor", "token_root", b64(b'["","x.png"]'))
write("cursor", "padded", base64.urlsafe_b64encode(b"f:b.png"))
write("cursor", "bad_tag", b64(b"x:b.png"))
write("cursor", "not_b64", "not*base64!")
# A search cursor, and a signed link made with the target's key (32 bytes of 7).
write("cursor", "search_cursor", b64(json.dumps(
    [1, {"field": "CreatedAt", "descending": True, "value": {"Int": 5}, "id": "abc"}], separators=(",", ":")).encode()))
_secret = bytes([7] * 32)
_key_id = hashlib.sha256(b"assetlib signing key id\0" + _secret).hexdigest()[:16]
_claims = b64(json.dumps({"c": 1, "a": "abc", "v": "original", "d": "a", "e": 9999999999, "k": _key_id},
                         separators=(",", ":")).encode())
write("cursor", "signed_link", _claims + b"." + b64(hmac.new(_secret, b"v1." + _claims, hashlib.sha256).digest()))
write("cursor", "token_three", b64(b'["a","b","c"]'))
write("cursor", "invalid_utf8", b64(b"f:\xff"))


# --- zip: small archives, among them hostile ones ---------------------------------------
def zbytes(entries, method=zipfile.ZIP_DEFLATED):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", method) as z:
        for name, data in entries:
            # A fixed time, so that the script writes the same bytes every time.
            info = zipfile.ZipInfo(name, date_time=(2026, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_STORED if name.endswith("/") else method
            z.writestr(info, data)
    return buf.getvalue()


write("zip", "one_stored", zbytes([("a.txt", b"hello")], zipfile.ZIP_STORED))
write("zip", "deflated", zbytes([("img/a.png", b"\x89PNG" + b"x" * 200), ("b.txt", b"hi")]))
write("zip", "with_dir", zbytes([("dir/", b""), ("dir/c.csv", b"a,b\n1,2\n")]))
write("zip", "traversal", zbytes([("../evil.txt", b"x"), ("/abs.txt", b"y")], zipfile.ZIP_STORED))
write("zip", "empty", zbytes([]))
# Many zero-filled entries: past max_entries (64) and with a high ratio.
write("zip", "many_zeros", zbytes([(f"z{i}.txt", b"\0" * 4096) for i in range(80)]))
# A few large zero-filled entries: the ratio and total-size limits (1 MiB).
write("zip", "zero_bomb", zbytes([(f"big{i}.txt", b"\0" * (400 << 10)) for i in range(3)]))


def overlapping():
    """Two central-directory entries pointing at the same local header (a "zip bomb" trick:
    the declared total is counted once per entry, the bytes stored once)."""
    data = b"\0" * 4096
    comp = zlib.compressobj(9, zlib.DEFLATED, -15)
    body = comp.compress(data) + comp.flush()
    crc = zlib.crc32(data)
    name = b"a.txt"
    local = struct.pack("<IHHHHHIIIHH", 0x04034B50, 20, 0, 8, 0, 0, crc, len(body), len(data), len(name), 0) + name
    central = b""
    names = [b"a.txt", b"b.txt", b"c.txt"]
    for n in names:
        central += struct.pack(
            "<IHHHHHHIIIHHHHHII", 0x02014B50, 20, 20, 0, 8, 0, 0, crc, len(body), len(data), len(n), 0, 0, 0, 0, 0, 0
        ) + n
    cd_offset = len(local) + len(body)
    end = struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, len(names), len(names), len(central), cd_offset, 0)
    return local + body + central + end


write("zip", "overlapping", overlapping())


def lying_size():
    """An entry whose headers declare 5 bytes but whose data inflates to far more."""
    data = b"\0" * 20000
    comp = zlib.compressobj(9, zlib.DEFLATED, -15)
    body = comp.compress(data) + comp.flush()
    crc = zlib.crc32(data)
    name = b"l.txt"
    local = struct.pack("<IHHHHHIIIHH", 0x04034B50, 20, 0, 8, 0, 0, crc, len(body), 5, len(name), 0) + name
    central = struct.pack(
        "<IHHHHHHIIIHHHHHII", 0x02014B50, 20, 20, 0, 8, 0, 0, crc, len(body), 5, len(name), 0, 0, 0, 0, 0, 0
    ) + name
    end = struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, 1, 1, len(central), len(local) + len(body), 0)
    return local + body + central + end


write("zip", "lying_size", lying_size())


def flagged(flags=0, method=0, external=0, made_by=20):
    """One stored entry with the given general-purpose flags, method and attributes:
    encrypted (flag 1), an unsupported method (12 = bzip2), a Unix symlink."""
    data = b"target.txt"
    crc = zlib.crc32(data)
    name = b"s.txt"
    local = struct.pack("<IHHHHHIIIHH", 0x04034B50, 20, flags, method, 0, 0, crc, len(data), len(data), len(name), 0) + name
    central = struct.pack(
        "<IHHHHHHIIIHHHHHII", 0x02014B50, made_by, 20, flags, method, 0, 0, crc, len(data), len(data), len(name), 0, 0, 0, 0,
        external, 0,
    ) + name
    end = struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, 1, 1, len(central), len(local) + len(data), 0)
    return local + data + central + end


write("zip", "encrypted", flagged(flags=1))
write("zip", "bzip2_method", flagged(method=12))
write("zip", "symlink", flagged(external=(0o120777 << 16), made_by=(3 << 8) | 20))


# --- multipart: bodies under boundary XyZ -------------------------------------------------
def part(headers, body):
    return b"--XyZ\r\n" + b"".join(h + b"\r\n" for h in headers) + b"\r\n" + body + b"\r\n"


END = b"--XyZ--\r\n"
write("multipart", "one_file", part([b'Content-Disposition: form-data; name="file"; filename="a.png"'], b"hello") + END)
write(
    "multipart",
    "fields_and_file",
    part([b'Content-Disposition: form-data; name="folder"'], b"test/uploads")
    + part([b'Content-Disposition: form-data; name="overwrite"'], b"true")
    + part([b'Content-Disposition: form-data; name="file"; filename="b.jpg"', b"Content-Type: image/jpeg"], b"\xff\xd8\xff" + b"\0" * 64)
    + END,
)
write("multipart", "two_files", part([b'Content-Disposition: form-data; name="f"; filename="1.txt"'], b"one") + part([b'Content-Disposition: form-data; name="f"; filename="2.txt"'], b"two") + END)
write("multipart", "no_end", part([b'Content-Disposition: form-data; name="file"; filename="a.png"'], b"cut off"))
write("multipart", "preamble", b"ignored preamble\r\n" + part([b'Content-Disposition: form-data; name="x"'], b"y") + END)
write("multipart", "not_utf8_field", part([b'Content-Disposition: form-data; name="x"'], b"\xff\xfe") + END)
write("multipart", "filename_star", part([b"Content-Disposition: form-data; name=\"file\"; filename*=UTF-8''caf%C3%A9.png"], b"z") + END)
write("multipart", "boundary_in_body", part([b'Content-Disposition: form-data; name="file"; filename="a"'], b"--Xy\r\n--XyZx") + END)
write("multipart", "empty", b"")


# --- range: the file size on the first line, then header lines ----------------------------
RANGES = {
    "suffix": "100\nRange: bytes=-500\nIf-Match: \"abc\"",
    "open_end": "1000\nRange: bytes=10-",
    "closed": "1000\nRange: bytes=0-99",
    "multi": "1000\nRange: bytes=0-1, 5-9, -3",
    "past_end": "10\nRange: bytes=20-30",
    "empty_file": "0\nRange: bytes=0-",
    "suffix_zero": "5\nRange: bytes=-0",
    "if_range_match": "1000\nRange: bytes=5-6\nIf-Range: \"abc\"",
    "if_range_date": "1000\nRange: bytes=5-6\nIf-Range: Tue, 14 Nov 2023 22:13:20 GMT",
    "if_none_match": "1000\nIf-None-Match: W/\"abc\", \"def\"",
    "if_none_match_star": "1000\nIf-None-Match: *",
    "if_modified_since": "1000\nIf-Modified-Since: Tue, 14 Nov 2023 22:13:20 GMT",
    "if_unmodified_since": "1000\nIf-Unmodified-Since: Sun, 06 Nov 1994 08:49:37 GMT",
    "if_match_list": "1000\nIf-Match: \"x\", \"abc\"\nIf-None-Match: \"abc\"",
    "bad_unit": "1000\nRange: items=0-1",
    "huge": "18446744073709551615\nRange: bytes=18446744073709551614-18446744073709551615",
    "reversed": "1000\nRange: bytes=9-1",
}
for name, text in RANGES.items():
    write("range", name, text)


# --- query: raw query strings ---------------------------------------------------------------
QUERIES = {
    "plain": "key=a.png",
    "escapes": "key=a%2Fb.png&folder=test%2Fuploads%2F",
    "plus": "q=hello+world&limit=10",
    "bad_escape": "key=%zz%2",
    "utf8_escape": "name=caf%C3%A9",
    "flag_only": "overwrite&key=",
    "empty_pairs": "&&a=b&&",
    "repeated": "key=a&key=b",
    "equals_in_value": "a=b=c",
}
for name, text in QUERIES.items():
    write("query", name, text)
write("query", "invalid_utf8_escape", b"key=a%2Fb.png&folder=%ff")
write("query", "invalid_utf8_raw", b"key=\xc3(")


# --- clinch_json: PutAssetJSON bodies and the small JSON bodies -----------------------------
JSONS = {
    "put": '{"key":"a.txt","content":"aGVsbG8=","metadata":{"a":"b"}}',
    "put_spaced_b64": '{"key":"a.txt","content":"aGVs bG8=","metadata":{"a":"b"}}',
    "content_first": '{"content":"aGVsbG8=","key":"b/c.png","overwrite":true}',
    "no_key": '{"content":"AAAA"}',
    "two_contents": '{"content":"AA==","content":"AQ=="}',
    "escapes": '{"key":"\\u0061\\/b.txt","content":"aGVs\\u0062G8=","metadata":{"\\ud83d\\ude00":"x"}}',
    "bad_b64": '{"key":"a.txt","content":"a*b="}',
    "nested": '{"key":"a.txt","metadata":{"a":{"b":[1,2,{"c":null}]}},"content":""}',
    "copy": '{"sourceKey":"a.txt","key":"b.txt","overwrite":false}',
    "metadata_only": '{"a":"b","c":"d"}',
    "not_object": '["content","aGVsbG8="]',
    "truncated": '{"key":"a.txt","content":"aGVsbG',
    "numbers": '{"overwrite":1e400,"key":-0.0,"content":"QQ=="}',
}
for name, text in JSONS.items():
    write("clinch_json", name, text)
write("clinch_json", "invalid_utf8", b'{"key":"a\xff.txt","content":"aGVsbG8="}')


# --- native: search query / If-Match / PATCH body, one per line -------------------------------
NATIVES = {
    "plain": 'tag=spring&q=he&sort=-name&limit=10\n"abc"\n{"tags":["a","b"]}',
    "filters": 'pathPrefix=a/b&meta.team=Red&contentType=image/*&createdMin=2026-01-01T00:00:00Z&approved=true\n*\n{"metadata":{"a":null,"b":"c"}}',
    "bad_param": 'nope=1&limit=0\nW/"x"\n{"tags":null,"skus":[""],"favorite":true}',
    "cursor": 'cursor=AAAA&sort=size\n"a", "b"\n{"metadata":null,"expiresAt":"2030-01-01T00:00:00Z"}',
    "bad_body": 'id=x&id=y\n"\n{"metadata":{"a":1},"key":"x.png"}',
    "unknown_member": 'archived=false\n""\n{"tgas":["x"]}',
}
for name, text in NATIVES.items():
    write("native", name, text)


# --- hivo: the asset query of GET /api/rest/v1/assets -----------------------------------------
HIVOS = {
    "plain": "filter[search]=hero&limit=32&skip=0&sort=-createdAt",
    "ids": "filter[id]=a,b,,c&filter[id]=d&includeThumbnails=true",
    "folders": "filter[path]=a/b&filter[pathPrefix]=a&filter[metadata][Team]=red&filter[sku]=S-1",
    "bounds": "limit=257&skip=65537&filter[createdMin]=-1&filter[createdMax]=99999999999999",
    "owner": "filter[sensitive]=true&filter[archived]=1&filter[licenseExpired]=0&filter[clientId]=2",
    "unknown": "filter[nope]=1&filter[metadata][]=x&page=2",
}
for name, text in HIVOS.items():
    write("hivo", name, text)


# --- render: images behind a selector byte (0 png, 1 jpg, 2 gif, 3 svg) --------------------
def png(w, h, color_type, rows, depth=8, palette=b""):
    def chunk(kind, body):
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))
    ihdr = struct.pack(">IIBBBBB", w, h, depth, color_type, 0, 0, 0)
    raw = b"".join(b"\0" + r for r in rows)
    plte = chunk(b"PLTE", palette) if palette else b""
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + plte + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b"")


# A 16x12 JPEG made by ffmpeg (testsrc, baseline, 4:2:0).
TINY_JPEG = base64.b64decode("/9j/4AAQSkZJRgABAgAAAQABAAD//gAQTGF2YzU5LjM3LjEwMAD/2wBDAAgKCgsKCw0NDQ0NDRAPEBAQEBAQEBAQEBASEhIVFRUSEhIQEBISFBQVFRcXFxUVFRUXFxkZGR4eHBwjIyQrKzP/xAByAAADAQAAAAAAAAAAAAAAAAACBgQHAQEBAQEAAAAAAAAAAAAAAAAGBQMHEAACAQMEAwEBAQAAAAAAAAABAgMEESEiEgAFBjEyQWETEQACAgIBAwQCAwEAAAAAAAABAgMEBRESAEEGUTETIYEiYZFCMv/AABEIAAwAEAMBEgACEgADEgD/2gAMAwEAAhEDEQA/AEZIEj8Zp5FvumMpfONFTtWw9Yz/AHJ5ZTdy56RFNJQFYflTCSuqWxuN9s/WLas8beMVoknM4UGRxoufcLphxX0B4gkdz7+w6MeN4trV+feRykSxGMqkVkqn7K5O14n0/jratfmuVszWkEfDHx0Y65CDmBZmMsxLnbHmyoCAQuo1+t7Jr5TEwWsNJkEeWlLPx+ZKZWCKXhP8acwELNxB/Xkx0fbrT+x7Cfr/ACChMRFpqmCB1a5UpM0MRNgRqUOSh/D7uLjgt00VX5CI5airIKtKp/0G6J4xEytGSh2kE4IyLC3rnNPGJHVSgYhXGmHY6Lkf0e/SbBZcXq0kZx2Lr8I9h69b45N/Jx/65nsT+eoFKnWsT+QWJIlaWq2NaCT/AFGZI3jfRHZlOmU7UkA62B1hjLcmKmuwqEsg2aMDmyDK0qvUtT7lIK82RoVCEjSqW+t/fX//2Q==")


def with_exif_orientation(jpeg, value):
    tiff = b"MM\0\x2a\0\0\0\x08" + struct.pack(">HHHIHHI", 1, 0x0112, 3, 1, value, 0, 0)
    app1 = b"Exif\0\0" + tiff
    return jpeg[:2] + b"\xff\xe1" + struct.pack(">H", len(app1) + 2) + app1 + jpeg[2:]


write("render", "png_rgb", b"\0" + png(4, 3, 2, [bytes(range(i, i + 12)) for i in range(3)]))
write("render", "png_rgba", b"\0" + png(3, 2, 6, [bytes([255, 0, 0, 128] * 3), bytes([0, 0, 255, 255] * 3)]))
write("render", "png_gray16", b"\0" + png(2, 2, 0, [b"\x12\x34\xff\xff", b"\x00\x00\x80\x00"], depth=16))
write("render", "png_palette", b"\0" + png(2, 1, 3, [b"\x00\x01"], palette=b"\xff\x00\x00\x00\x00\xff"))
write("render", "png_big_declared", b"\0" + png(5000, 5000, 2, [b""]))
write("render", "jpeg", b"\1" + TINY_JPEG)
write("render", "jpeg_rotated", b"\1" + with_exif_orientation(TINY_JPEG, 6))
write("render", "gif", b"\2GIF89a\x01\x00\x01\x00\x80\x00\x00\xff\x00\x00\x00\x00\x00!\xf9\x04\x01\x00\x00\x00\x00,\x00\x00\x00\x00\x01\x00\x01\x00\x00\x02\x02D\x01\x00;")
write("render", "svg_shapes", b"\3" + b'<svg xmlns="http://www.w3.org/2000/svg" width="40" height="20"><rect width="20" height="20" fill="red"/><circle cx="30" cy="10" r="5" opacity=".5"/></svg>')
write("render", "svg_viewbox", b"\3" + b'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 3 2" width="3000" height="2000"><path d="M0 0L3 2" stroke="blue"/></svg>')
write("render", "svg_external", b"\3" + b'<?xml version="1.0"?><!DOCTYPE svg [<!ENTITY x SYSTEM "file:///etc/passwd">]><svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink" width="9" height="9"><image xlink:href="/etc/passwd" width="9" height="9"/><text>&x;</text><use href="#a"/><g id="a"><use href="#a"/></g></svg>')


# --- dictionaries (AFL++ format) ------------------------------------------------------------
def dictionary(target, tokens):
    DICT.mkdir(parents=True, exist_ok=True)
    lines = []
    for i, t in enumerate(tokens):
        if isinstance(t, str):
            t = t.encode()
        esc = "".join(chr(b) if 0x20 <= b < 0x7F and b not in (0x22, 0x5C) else f"\\x{b:02x}" for b in t)
        lines.append(f't{i}="{esc}"')
    (DICT / f"{target}.dict").write_text("\n".join(lines) + "\n")


dictionary("rules", ["/", "..", "./", "//", ".png", ".PNG", ".jpg", ".zip", ".json", "\x00", "\x7f", "\u0085", "\u00a0", "\u00ff"])
dictionary("cursor", ["f:", "d:", '["', '","', '"]', "\\u0000", "\\ud800", "=", "-", "_"])
dictionary("zip", [b"PK\x03\x04", b"PK\x01\x02", b"PK\x05\x06", b"PK\x06\x06", b"PK\x06\x07", b"PK\x07\x08", b"\x01\x00", b"\x55\x54", b"\x75\x70", b"\xff\xff\xff\xff"])
dictionary("multipart", ["--XyZ", "--XyZ--", "\r\n", "\r\n\r\n", "Content-Disposition: form-data; ", 'name="', 'filename="', "filename*=UTF-8''", "Content-Type: ", '"'])
dictionary("range", ["Range: bytes=", "If-Range: ", "If-Match: ", "If-None-Match: ", "If-Modified-Since: ", "If-Unmodified-Since: ", '"abc"', "W/", "*", ",", "-", "\n", "Tue, 14 Nov 2023 22:13:20 GMT", "18446744073709551615"])
dictionary("query", ["%", "%2F", "%ff", "%C3%A9", "+", "&", "=", "%00"])
dictionary("native", ["tag=", "q=", "id=", "path=", "pathPrefix=", "sku=", "collectionId=", "batchId=", "approved=", "sensitive=", "archived=", "licenseExpired=", "favoriteBy=me", "createdMin=", "createdMax=", "contentType=", "meta.", "sort=", "limit=", "cursor=", "&", "\n", '"', "W/", "*", '"tags"', '"skus"', '"metadata"', '"collectionIds"', '"batchId"', '"approved"', '"expiresAt"', '"licenseExpiresAt"', '"favorite"', '"key"', "null", "true", "{", "}", "[", "]"])
dictionary("hivo", ["filter[", "]", "filter[search]=", "filter[id]=", "filter[path]=", "filter[pathPrefix]=", "filter[sensitive]=", "filter[archived]=", "filter[licenseExpired]=", "filter[approved]=", "filter[favoriteBy]=", "filter[collectionId]=", "filter[clientId]=", "filter[batchId]=", "filter[createdMin]=", "filter[createdMax]=", "filter[sku]=", "filter[metadata][", "sort=", "limit=", "skip=", "includeThumbnails=", "&", ",", "%5B", "%5D", "true", "false", "65536", "256"])
dictionary("render", [b"\x89PNG\r\n\x1a\n", b"IHDR", b"IDAT", b"IEND", b"PLTE", b"tRNS", b"iCCP", b"eXIf", b"\xff\xd8", b"\xff\xc0", b"\xff\xc2", b"\xff\xc4", b"\xff\xda", b"\xff\xdb", b"\xff\xdd", b"\xff\xe1", b"\xff\xe2", b"\xff\xee", b"\xff\xd9", b"Exif\0\0", b"ICC_PROFILE\0", b"Adobe", b"GIF89a", b"NETSCAPE2.0", b"!\xf9\x04", b"<svg ", b"</svg>", b"viewBox=", b"width=", b"<use href=", b"<image href=", b"<!ENTITY", b"<filter>", b"<linearGradient>", b"transform=", b"\xff\xff"])
dictionary("clinch_json", ['"key"', '"content"', '"metadata"', '"overwrite"', '"sourceKey"', "true", "false", "null", "\\u", "\\ud83d", "{", "}", "[", "]", ":", ",", '"', "=="])

if __name__ == "__main__":
    print(f"wrote {sum(1 for _ in CORPUS.rglob('*') if _.is_file())} seeds under {CORPUS}")
