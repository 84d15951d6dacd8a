#!/usr/bin/python3
"""scratchfs-reader: a second, independent reader of the scratchfs format.

Written from doc/FORMAT.md alone (not from the C code), with Python's
hashlib (BLAKE2b), python3-nacl (XChaCha20-Poly1305) and
python3-cryptography (AES-256-GCM, ChaCha20). It opens an unmounted volume
whose key is wrapped under a node key file (key source 2) and prints the
tree with decrypted names, contents, symlink targets and user.* xattrs.

  scratchfs-reader.py [--json] --key NODE_KEY BACKING
  scratchfs-reader.py --vectors FORMAT.md

--vectors checks the known-answer vectors of FORMAT.md section 12 with this
implementation. Exit status: 0 read (or vectors agree), 1 the volume or a
vector does not authenticate, 2 usage or I/O error.
"""

import argparse
import base64
import hashlib
import hmac
import json
import os
import re
import stat
import struct
import sys

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from nacl import bindings as sodium
from nacl.exceptions import CryptoError

BLOCK = 4096
HEAD = 64
HEADER_LEN = 192
SLOT = {1: (24, 40), 2: (12, 28)}  # AEAD id -> (nonce bytes, slot bytes)
SUBKEYS = {  # section 4: name -> (subkey id, context)
    "content": (1, b"sfs-cont"),
    "nmac": (2, b"sfs-nmac"),
    "nenc": (3, b"sfs-nenc"),
    "lmac": (4, b"sfs-lmac"),
    "lenc": (5, b"sfs-lenc"),
    "xval": (8, b"sfs-xval"),
}


SET_NAME = "user.sfs.x"  # section 8: the set of an inode's user.* xattrs
SET_AD = b"sfs-xattr-set"


class Invalid(Exception):
    """Something in the volume does not authenticate or breaks the format."""


def parse_set(plain):
    """Section 8: the entries of an opened set, {"user.X": value}."""
    out, i = {}, 0
    while i < len(plain):
        if i + 3 > len(plain):
            raise Invalid("xattr set entry cut short")
        nlen, vlen = struct.unpack(">BH", plain[i:i + 3])
        x, i = plain[i + 3:i + 3 + nlen], i + 3 + nlen
        value, i = plain[i:i + vlen], i + vlen
        if not 1 <= nlen <= 250 or len(x) != nlen or len(value) != vlen \
                or b"\0" in x:
            raise Invalid("xattr set entry malformed")
        name = "user." + x.decode("utf-8", "surrogateescape")
        if name in out:
            raise Invalid("xattr set names an attribute twice")
        out[name] = value
    return out


# --- primitives (sections 1, 4) ------------------------------------------

def b64d(s):
    """Strict base64url without padding (section 1)."""
    if isinstance(s, bytes):
        s = s.decode("ascii")
    if len(s) % 4 == 1 or not re.fullmatch(r"[A-Za-z0-9_-]*", s):
        raise Invalid("bad base64url: %r" % s)
    raw = base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))
    if b64e(raw) != s:
        raise Invalid("non-canonical base64url: %r" % s)
    return raw


def b64e(raw):
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def kdf(key, subkey_id, ctx):
    """Section 4.1: BLAKE2b-256, salt LE64(id) || 0^8, personal ctx || 0^8."""
    return hashlib.blake2b(b"", digest_size=32, key=key,
                           salt=struct.pack("<Q", subkey_id) + bytes(8),
                           person=ctx + bytes(8)).digest()


def key_id(nmk):
    return hashlib.blake2b(b"scratchfs node key id v1", digest_size=16,
                           key=nmk).digest()


def _rotl(v, n):
    return ((v << n) & 0xffffffff) | (v >> (32 - n))


def _quarter(s, a, b, c, d):
    s[a] = (s[a] + s[b]) & 0xffffffff
    s[d] = _rotl(s[d] ^ s[a], 16)
    s[c] = (s[c] + s[d]) & 0xffffffff
    s[b] = _rotl(s[b] ^ s[c], 12)
    s[a] = (s[a] + s[b]) & 0xffffffff
    s[d] = _rotl(s[d] ^ s[a], 8)
    s[c] = (s[c] + s[d]) & 0xffffffff
    s[b] = _rotl(s[b] ^ s[c], 7)


def hchacha20(key, nonce16):
    s = list(struct.unpack("<4I", b"expand 32-byte k") +
             struct.unpack("<8I", key) + struct.unpack("<4I", nonce16))
    for _ in range(10):
        _quarter(s, 0, 4, 8, 12)
        _quarter(s, 1, 5, 9, 13)
        _quarter(s, 2, 6, 10, 14)
        _quarter(s, 3, 7, 11, 15)
        _quarter(s, 0, 5, 10, 15)
        _quarter(s, 1, 6, 11, 12)
        _quarter(s, 2, 7, 8, 13)
        _quarter(s, 3, 4, 9, 14)
    return struct.pack("<8I", *(s[0:4] + s[12:16]))


def xchacha20_xor(key, nonce24, data):
    """crypto_stream_xchacha20_xor: HChaCha20 subkey, then ChaCha20 with a
    64-bit counter from 0 and the last 8 nonce bytes."""
    sub = hchacha20(key, nonce24[:16])
    enc = Cipher(algorithms.ChaCha20(sub, bytes(8) + nonce24[16:]),
                 mode=None).encryptor()
    return enc.update(data)


def siv_tag(kmac, iv, pt):
    return hashlib.blake2b(struct.pack("<Q", len(iv)) + iv + pt,
                           digest_size=16, key=kmac).digest()


def siv_seal(kmac, kenc, iv, pt):
    t = siv_tag(kmac, iv, pt)
    return t + xchacha20_xor(kenc, t + bytes(8), pt)


def siv_open(kmac, kenc, iv, s):
    if len(s) < 16:
        raise Invalid("SIV input shorter than its tag")
    t, c = s[:16], s[16:]
    p = xchacha20_xor(kenc, t + bytes(8), c)
    if not hmac.compare_digest(siv_tag(kmac, iv, p), t):
        raise Invalid("SIV tag mismatch")
    return p


def xc_open(key, nonce, ct_tag, ad):
    try:
        return sodium.crypto_aead_xchacha20poly1305_ietf_decrypt(
            ct_tag, ad, nonce, key)
    except CryptoError:
        raise Invalid("XChaCha20-Poly1305 authentication failed")


def xc_seal(key, nonce, pt, ad):
    return sodium.crypto_aead_xchacha20poly1305_ietf_encrypt(pt, ad, nonce,
                                                             key)


def block_open(aead, fk, nonce, ct, tag, ad):
    if aead == 1:
        return xc_open(fk, nonce, ct + tag, ad)
    try:
        return AESGCM(fk).decrypt(nonce, ct + tag, ad)
    except Exception:
        raise Invalid("AES-256-GCM authentication failed")


def block_seal(aead, fk, nonce, pt, ad):
    """ciphertext || tag (the combined form; section 5.1)."""
    if aead == 1:
        return xc_seal(fk, nonce, pt, ad)
    return AESGCM(fk).encrypt(nonce, pt, ad)


def cobs_decode(data):
    """Section 7, strict."""
    if not data:
        raise Invalid("empty COBS input")
    out = bytearray()
    i = 0
    while i < len(data):
        c = data[i]
        if c == 0:
            raise Invalid("COBS zero code byte")
        group = data[i + 1:i + c]
        if len(group) != c - 1:
            raise Invalid("COBS group runs past the end")
        if 0 in group:
            raise Invalid("COBS zero data byte")
        out += group
        i += c
        if i < len(data):
            if c != 0xff:
                out.append(0)
        elif c == 0xff:
            raise Invalid("COBS input ends after a 0xff group")
    return bytes(out)


# --- volume (sections 3, 4) ----------------------------------------------

class Volume:
    def __init__(self, backing, nmk):
        self.backing = backing
        h = read_header(backing)
        self.aead = h[33]
        if h[32] != 1 or self.aead not in (1, 2) or h[34] != 2:
            raise Invalid("not an encrypted key-file volume (mode %d, "
                          "AEAD %d, key source %d)" % (h[32], h[33], h[34]))
        if h[40:56] != key_id(nmk):
            raise Invalid("the node key does not open this volume")
        kek = kdf(nmk, 1, b"sfskek01")
        slot = h[56:128]
        vk = xc_open(kek, slot[:24], slot[24:], h[0:56])
        self.k = {n: kdf(vk, i, c) for n, (i, c) in SUBKEYS.items()}
        self.nonce_len, self.slot_len = SLOT[self.aead]
        self.slots_per_page = (BLOCK - HEAD) // self.slot_len
        self.group = (self.slots_per_page + 1) * BLOCK

    # section 6
    def name(self, dir_fd, backing_name, diriv):
        if re.fullmatch(r"\.sfs\.L\.[A-Za-z0-9_-]{43}", backing_name):
            fd = os.open(backing_name + ".name", os.O_RDONLY | os.O_NOFOLLOW,
                         dir_fd=dir_fd)
            with os.fdopen(fd, "rb") as f:
                enc = f.read()
            if b64e(hashlib.blake2b(enc, digest_size=32).digest()) != \
                    backing_name[7:]:
                raise Invalid("sidecar does not match its entry")
        else:
            enc = backing_name.encode("ascii")
        s = b64d(enc)
        if len(s) < 32 or (len(s) - 16) % 16:
            raise Invalid("encrypted name has a bad length")
        p = siv_open(self.k["nmac"], self.k["nenc"], diriv, s)
        n = p.rstrip(b"\0")
        if (not n or len(p) != (len(n) + 15) // 16 * 16 or b"\0" in n or
                b"/" in n or n in (b".", b"..")):
            raise Invalid("entry name does not authenticate")
        return n

    # section 7
    def symlink(self, stored):
        m = re.fullmatch(rb"\.sfs\.T\.([A-Za-z0-9_-]{22})", stored)
        if m:
            return self.symlink_sidecar(m.group(1).decode("ascii"))
        s = cobs_decode(stored)
        if not 16 < len(s) <= 4078:
            raise Invalid("symlink target has a bad length")
        x = siv_open(self.k["lmac"], self.k["lenc"], b"", s)
        if b"\0" in x:
            raise Invalid("symlink target holds a NUL")
        return x

    # section 7.2
    def symlink_sidecar(self, idb64):
        ident = b64d(idb64)
        store = os.path.join(self.backing, ".sfs.targets")
        try:
            if not stat.S_ISDIR(os.lstat(store).st_mode):
                raise Invalid("the target store is not a directory")
            fd = os.open(os.path.join(store, idb64),
                         os.O_RDONLY | os.O_NOFOLLOW)
        except FileNotFoundError:
            raise Invalid("symlink target sidecar missing")
        with os.fdopen(fd, "rb") as f:
            s = f.read()
        if not 16 < len(s) <= 16 + 4095:
            raise Invalid("symlink target sidecar has a bad length")
        x = siv_open(self.k["lmac"], self.k["lenc"], ident, s)
        if b"\0" in x:
            raise Invalid("symlink target holds a NUL")
        return x

    # section 8
    def xattrs(self, path):
        names = os.listxattr(path, follow_symlinks=False)
        user = [n for n in names if n.startswith("user.")]
        if not user:
            return {}
        if user != [SET_NAME]:
            raise Invalid("backing user.* attributes other than " + SET_NAME)
        v = os.getxattr(path, SET_NAME, follow_symlinks=False)
        if len(v) < 40:
            raise Invalid("xattr set shorter than 40 bytes")
        return parse_set(xc_open(self.k["xval"], v[:24], v[24:], SET_AD))

    # section 5
    def contents(self, path):
        with open(path, "rb") as f:
            data = f.read()
        c = len(data)
        if c == 0:
            return b""
        if c < 18:
            raise Invalid("impossible file size")
        g, r = divmod(c, self.group)
        if g >= 1 and 0 < r <= BLOCK:
            raise Invalid("impossible file size")
        p = BLOCK * self.slots_per_page * g + (r - BLOCK if r > BLOCK else 0)
        ver, fid = struct.unpack(">H", data[:2])[0], data[2:18]
        if ver != 2 or fid == bytes(16):
            raise Invalid("bad file header")
        fk = hashlib.blake2b(fid, digest_size=32,
                             key=self.k["content"]).digest()
        out = bytearray()
        for k in range((p + BLOCK - 1) // BLOCK):
            g, j = divmod(k, self.slots_per_page)
            data_off = g * self.group + (1 + j) * BLOCK
            slot_off = g * self.group + HEAD + j * self.slot_len
            n = min(BLOCK, p - k * BLOCK)
            slot = data[slot_off:slot_off + self.slot_len]
            ct = data[data_off:data_off + n]
            nonce, tag = slot[:self.nonce_len], slot[self.nonce_len:]
            if slot == bytes(self.slot_len):
                if ct != bytes(n):
                    raise Invalid("block %d: zero slot, non-zero data" % k)
                out += ct
                continue
            if nonce == bytes(self.nonce_len):
                raise Invalid("block %d: zero nonce" % k)
            try:
                out += block_open(self.aead, fk, nonce, ct, tag,
                                  fid + struct.pack(">Q", k))
            except Invalid:
                raise Invalid("block %d authentication failed" % k)
        return bytes(out)


def read_header(backing):
    meta = os.path.join(backing, ".scratchfs")
    if not stat.S_ISDIR(os.lstat(meta).st_mode):
        raise Invalid(".scratchfs is not a directory")
    path = os.path.join(meta, "volume")
    st = os.lstat(path)
    if not stat.S_ISREG(st.st_mode) or st.st_size > 4096:
        raise Invalid("volume header is not a small regular file")
    with open(path, "rb") as f:
        h = f.read()
    if h[:8] != b"SCRFSVOL":
        raise Invalid("volume header: bad magic")
    if len(h) < 12:
        raise Invalid("volume header: truncated")
    if struct.unpack(">I", h[8:12])[0] != 4:
        raise Invalid("volume header: unsupported format version")
    if len(h) != HEADER_LEN:
        raise Invalid("volume header: wrong length")
    if hashlib.blake2b(h[:160], digest_size=32).digest() != h[160:]:
        raise Invalid("volume header: bad checksum")
    if (struct.unpack(">I", h[12:16])[0] or h[35] or any(h[128:160]) or
            struct.unpack(">I", h[36:40])[0] != BLOCK):
        raise Invalid("volume header: flags, reserved bytes or block size")
    return h


# --- the tree (section 11) -----------------------------------------------

def walk(vol, brel="", prel=""):
    """Yields (path, kind, value, xattrs) for the tree under the backing
    directory brel, whose plaintext path is prel."""
    fd = os.open(os.path.join(vol.backing, brel),
                 os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)
    try:
        with open(os.open(".sfs.diriv", os.O_RDONLY | os.O_NOFOLLOW,
                          dir_fd=fd), "rb") as f:
            diriv = f.read()
        if len(diriv) != 16:
            raise Invalid("%s: directory IV missing" % (prel or "/"))
        entries = []
        for b in os.listdir(fd):
            if (brel == "" and b == ".scratchfs") or (
                    b.startswith(".sfs.") and not re.fullmatch(
                        r"\.sfs\.L\.[A-Za-z0-9_-]{43}", b)):
                continue
            entries.append((vol.name(fd, b, diriv), b))
    finally:
        os.close(fd)
    for plain, b in sorted(entries):
        path = prel + "/" + plain.decode("utf-8", "surrogateescape")
        full = os.path.join(vol.backing, brel, b)
        st = os.lstat(full)
        if stat.S_ISDIR(st.st_mode):
            yield path, "dir", None, vol.xattrs(full)
            yield from walk(vol, os.path.join(brel, b), path)
        elif stat.S_ISREG(st.st_mode):
            yield path, "file", vol.contents(full), vol.xattrs(full)
        elif stat.S_ISLNK(st.st_mode):
            target = os.readlink(os.fsencode(full))
            yield path, "symlink", vol.symlink(target), {}
        else:
            yield path, "other", None, vol.xattrs(full)


def show_bytes(b, limit=256):
    s = b[:limit].decode("utf-8", "backslashreplace")
    s = "".join(ch if ch.isprintable() else "\\x%02x" % ord(ch)
                if ord(ch) < 256 else ch for ch in s)
    return s + ("... (%d bytes)" % len(b) if len(b) > limit else "")


def read_volume(args):
    with open(args.key, "rb") as f:
        nmk = f.read()
    if len(nmk) != 32:
        raise Invalid("node key file does not hold 32 bytes")
    vol = Volume(args.backing, nmk)
    entries = []
    for path, kind, value, xattrs in walk(vol):
        e = {"path": path, "type": kind}
        if kind == "file":
            e["content"] = b64e(value)
        elif kind == "symlink":
            e["target"] = b64e(value)
        e["xattrs"] = {k: b64e(v) for k, v in sorted(xattrs.items())}
        entries.append(e)
        if not args.json:
            line = "%-7s %s" % (kind, path)
            if kind == "file":
                line += "  (%d bytes) %s" % (len(value), show_bytes(value))
            elif kind == "symlink":
                line += " -> " + show_bytes(value)
            print(line)
            for k, v in sorted(xattrs.items()):
                print("        xattr %s = %s" % (k, show_bytes(v)))
    if args.json:
        json.dump({"cipher": {1: "xchacha20poly1305", 2: "aes256gcm"}[
            vol.aead], "entries": entries}, sys.stdout)
        print()


# --- known answers (FORMAT.md section 12) --------------------------------

def check_vectors(path):
    """Recomputes every `name = hex` line of FORMAT.md section 12."""
    with open(path, encoding="utf-8") as f:
        text = f.read()
    sec = text.split("## 12.", 1)[1]
    v = {m.group(1): m.group(2) for m in re.finditer(
        r"^([a-z0-9_.]+) += (.+)$", sec, re.M)}
    h = {k: bytes.fromhex(x) for k, x in v.items()
         if re.fullmatch(r"([0-9a-f]{2})*", x)}
    got = {}
    vk, nmk = h["vk"], h["nmk"]
    for n, (i, c) in SUBKEYS.items():
        got["k_" + n] = kdf(vk, i, c)
    got["key_id"] = key_id(nmk)
    got["kek"] = kdf(nmk, 1, b"sfskek01")
    got["keyslot"] = h["keyslot_nonce"] + xc_seal(got["kek"],
                                                  h["keyslot_nonce"], vk,
                                                  h["keyslot_ad"])
    name = v["name"].encode()
    padded = name + bytes(-len(name) % 16)
    got["name_siv"] = siv_seal(got["k_nmac"], got["k_nenc"], h["diriv"],
                               padded)
    got["name_enc"] = b64e(got["name_siv"])
    got["symlink_siv"] = siv_seal(got["k_lmac"], got["k_lenc"], b"",
                                  v["symlink"].encode())
    got["symlink_ref"] = ".sfs.T." + b64e(h["symlink_id"])
    got["symlink_sidecar"] = siv_seal(got["k_lmac"], got["k_lenc"],
                                      h["symlink_id"], v["symlink"].encode())
    xname, xvalue = v["xattr_name"].encode(), v["xattr_value"].encode()
    got["xattr_set"] = struct.pack(">BH", len(xname), len(xvalue)) + \
        xname + xvalue
    got["xattr_stored"] = h["xattr_nonce"] + xc_seal(
        got["k_xval"], h["xattr_nonce"], got["xattr_set"], SET_AD)
    got["fk"] = hashlib.blake2b(h["file_id"], digest_size=32,
                                key=got["k_content"]).digest()
    ad = h["file_id"] + struct.pack(">Q", int(v["block_index"]))
    pt = v["block_plaintext"].encode()
    for aead, tag in ((1, "xchacha20poly1305"), (2, "aes256gcm")):
        nonce = h[tag + "_nonce"]
        sealed = block_seal(aead, got["fk"], nonce, pt, ad)
        got[tag + "_ct"], got[tag + "_tag"] = sealed[:-16], sealed[-16:]
    bad = 0
    for k, x in sorted(got.items()):
        x = x if isinstance(x, str) else x.hex()
        if v.get(k) != x:
            print("vector %s: FORMAT.md says %s, computed %s" % (k, v.get(k),
                                                                 x))
            bad += 1
    print("%d vectors checked, %d differ" % (len(got), bad))
    return 1 if bad else 0


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--json", action="store_true",
                    help="one JSON object, contents base64url")
    ap.add_argument("--key", help="the node key file (32 raw bytes)")
    ap.add_argument("--vectors", metavar="FORMAT_MD",
                    help="check the vectors of FORMAT.md section 12")
    ap.add_argument("backing", nargs="?")
    args = ap.parse_args()
    try:
        if args.vectors:
            return check_vectors(args.vectors)
        if not args.key or not args.backing:
            ap.error("--key and BACKING are needed")
        read_volume(args)
        return 0
    except Invalid as e:
        print("scratchfs-reader: %s" % e, file=sys.stderr)
        return 1
    except OSError as e:
        print("scratchfs-reader: %s" % e, file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
