#!/bin/sh
# Regenerates the test-only key fixtures in this directory. These keys are
# public: never use them for anything but tests.
#
# Each key appears in several formats so that tests can check that every
# format of one key gives the same key:
#   ed25519.openssh       "OPENSSH PRIVATE KEY"     (ssh-keygen -t ed25519)
#   ed25519.openssh.pub   ssh-ed25519 line
#   ed25519.pem           PKCS#8 "PRIVATE KEY"      (the same key; OpenSSH 9.2
#                         cannot write Ed25519 PKCS#8, so python3 copies the seed)
#   ed25519.pub.pem       PKIX "PUBLIC KEY"         (openssl pkey -pubout)
#   rsa-pkcs1.pem         PKCS#1 "RSA PRIVATE KEY"  (2048 bits)
#   rsa-pkcs8.pem         PKCS#8 "PRIVATE KEY"      (the same key)
#   rsa.openssh           "OPENSSH PRIVATE KEY"     (the same key)
#   rsa.pub.pem           PKIX "PUBLIC KEY"
#   rsa-pkcs1.pub.pem     PKCS#1 "RSA PUBLIC KEY"
#   rsa.openssh.pub       ssh-rsa line
# and, for the error cases:
#   rsa1024.pem           PKCS#1, too small
#   ecdsa.pem, ecdsa-pkcs8.pem, ecdsa.openssh, ecdsa.openssh.pub
#   encrypted.openssh     OpenSSH key with passphrase "secret"
#   encrypted-pkcs8.pem   "ENCRYPTED PRIVATE KEY", passphrase "secret"
#   encrypted-pkcs1.pem   legacy encrypted "RSA PRIVATE KEY" (Proc-Type: 4,ENCRYPTED)
set -eu
cd "$(dirname "$0")"
rm -f ./*.pem ./*.openssh ./*.pub

ssh-keygen -q -t ed25519 -N '' -C test-ed25519 -f ed25519.openssh
python3 - <<'PY'
import base64, struct
text = open("ed25519.openssh").read().split("\n")
blob = base64.b64decode("".join(l for l in text if l and not l.startswith("-----")))
assert blob.startswith(b"openssh-key-v1\0")
pos = len(b"openssh-key-v1\0")
def string():
    global pos
    n, = struct.unpack(">I", blob[pos:pos + 4])
    pos += 4 + n
    return blob[pos - n:pos]
cipher, kdf, kdfopts = string(), string(), string()
assert cipher == b"none"
pos += 4  # number of keys
string()  # public key
priv = string()
pos = 8  # check ints
blob = priv
assert string() == b"ssh-ed25519"
string()  # public key
seed = string()[:32]
der = bytes.fromhex("302e020100300506032b657004220420") + seed
with open("ed25519.pem", "w") as f:
    f.write("-----BEGIN PRIVATE KEY-----\n" + base64.b64encode(der).decode() + "\n-----END PRIVATE KEY-----\n")
PY
openssl pkey -in ed25519.pem -pubout -out ed25519.pub.pem

openssl genrsa -traditional -out rsa-pkcs1.pem 2048
openssl pkcs8 -topk8 -nocrypt -in rsa-pkcs1.pem -out rsa-pkcs8.pem
openssl rsa -in rsa-pkcs1.pem -pubout -out rsa.pub.pem
openssl rsa -in rsa-pkcs1.pem -RSAPublicKey_out -out rsa-pkcs1.pub.pem
cp rsa-pkcs1.pem rsa.openssh
ssh-keygen -q -p -N '' -f rsa.openssh >/dev/null
ssh-keygen -y -f rsa.openssh | sed 's/$/ test-rsa/' >rsa.openssh.pub

openssl genrsa -traditional -out rsa1024.pem 1024

openssl ecparam -genkey -name prime256v1 -noout -out ecdsa.pem
openssl pkcs8 -topk8 -nocrypt -in ecdsa.pem -out ecdsa-pkcs8.pem
ssh-keygen -q -t ecdsa -b 256 -N '' -C test-ecdsa -f ecdsa.openssh

ssh-keygen -q -t ed25519 -N secret -C test-encrypted -f encrypted.openssh
rm encrypted.openssh.pub
openssl pkcs8 -topk8 -v2 aes-256-cbc -passout pass:secret -in ed25519.pem -out encrypted-pkcs8.pem
openssl rsa -traditional -aes256 -passout pass:secret -in rsa-pkcs1.pem -out encrypted-pkcs1.pem
chmod 644 ./*.pem ./*.openssh ./*.pub
