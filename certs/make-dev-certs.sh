#!/usr/bin/env bash
# Makes a development CA, agency certificates, negative test fixtures, an
# agency registry and one daemon configuration per agency. Development only.
#
# Usage: make-dev-certs.sh OUTDIR [TRUST_DOMAIN]
#
# Everything is regenerated on every run (a new CA each time), so the output
# is always self-consistent. Files in OUTDIR that this script does not make
# are left alone, and so are the daemons' state directories under run/.
set -euo pipefail

usage() {
    echo "usage: $0 OUTDIR [TRUST_DOMAIN]" >&2
    exit 2
}

if [ $# -lt 1 ] || [ $# -gt 2 ]; then
    usage
fi
out=$1
td=${2:-cjx.example}

# A SPIFFE trust domain is lower-case letters, digits, dots, dashes and
# underscores; anything else would make an invalid URI SAN.
if ! [[ $td =~ ^[a-z0-9._-]+$ ]]; then
    echo "$0: invalid trust domain '$td' (use lower-case letters, digits, '.', '-', '_')" >&2
    exit 2
fi
command -v openssl >/dev/null || { echo "$0: openssl not found" >&2; exit 1; }

# The shipped rule sets, beside this script in the source tree.
rules_dir=$(cd "$(dirname "$0")/../rules" && pwd)

mkdir -p "$out"
out=$(cd "$out" && pwd)
cd "$out"

# Development agencies: slug|ORI|role|county|display name|listen port.
agencies=(
    "doj|CA0000001|DOJ||California Department of Justice|7441"
    "sf-da|CA038013A|PROSECUTOR|San Francisco|San Francisco District Attorney|7442"
    "sf-court|CA038033J|COURT|San Francisco|Superior Court of San Francisco|7443"
    "sf-pd|CA038023P|DEFENDER|San Francisco|San Francisco Public Defender|7444"
    "alameda-da|CA001013A|PROSECUTOR|Alameda|Alameda County District Attorney|7445"
    "alameda-court|CA001033J|COURT|Alameda|Superior Court of Alameda|7446"
    "alameda-pd|CA001023P|DEFENDER|Alameda|Alameda County Public Defender|7447"
)
sf_da_ori=CA038013A
unknown_ori=CA099999X
# The trust domain the wrongdomain fixture names: any but the real one.
other_td=other.example
[ "$td" != "$other_td" ] || other_td=another.example

# The CA databases are scratch state: start them afresh so that a rerun never
# trips over serials or subjects of an earlier run.
rm -rf ca-db crl
mkdir -p ca-db/trusted/newcerts ca-db/untrusted/newcerts crl
: >ca-db/trusted/index.txt
: >ca-db/untrusted/index.txt
for d in trusted untrusted; do
    echo 1000 >ca-db/$d/crlnumber
    echo 01 >ca-db/$d/serial
done

cat >ca-db/ca.cnf <<EOF
# openssl ca configuration for the development CAs (generated).
[ ca ]
default_ca = trusted_ca

[ trusted_ca ]
dir = $out/ca-db/trusted
certificate = $out/ca.pem
private_key = $out/ca.key
database = \$dir/index.txt
new_certs_dir = \$dir/newcerts
serial = \$dir/serial
crlnumber = \$dir/crlnumber
default_md = sha256
default_days = 365
default_crl_days = 365
policy = policy_any
unique_subject = no
copy_extensions = none
email_in_dn = no

[ untrusted_ca ]
dir = $out/ca-db/untrusted
certificate = $out/untrusted-ca.pem
private_key = $out/untrusted-ca.key
database = \$dir/index.txt
new_certs_dir = \$dir/newcerts
serial = \$dir/serial
crlnumber = \$dir/crlnumber
default_md = sha256
default_days = 365
default_crl_days = 365
policy = policy_any
unique_subject = no
copy_extensions = none
email_in_dn = no

[ policy_any ]
organizationName = optional
organizationalUnitName = optional
commonName = supplied

[ req ]
distinguished_name = req_dn
prompt = no

[ req_dn ]
CN = unused

[ ca_ext ]
basicConstraints = critical, CA:TRUE, pathlen:0
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash

[ agency ]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = serverAuth, clientAuth
subjectAltName = \$ENV::CJX_SAN
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid

[ server_only ]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = serverAuth
subjectAltName = \$ENV::CJX_SAN
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid

[ no_san ]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = serverAuth, clientAuth
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
EOF
cnf=$out/ca-db/ca.cnf
# openssl expands $ENV::CJX_SAN when it loads the file, used or not.
export CJX_SAN=

# Runs a command quietly; shows what it said only if it fails.
quiet() {
    local log
    log=$(mktemp)
    if ! "$@" >"$log" 2>&1; then
        cat "$log" >&2
        rm -f "$log"
        echo "$0: failed: $*" >&2
        exit 1
    fi
    rm -f "$log"
}

# Private keys are created with a umask that never lets them be readable by
# anyone else, not even for a moment.
new_key() {
    (umask 077 && quiet openssl genpkey -algorithm EC \
        -pkeyopt ec_paramgen_curve:P-256 -out "$1")
    chmod 600 "$1"
}

new_ca() { # name subject
    new_key "$1.key"
    quiet openssl req -config "$cnf" -new -x509 -key "$1.key" -subj "$2" -days 3650 \
        -sha256 -extensions ca_ext -out "$1.pem"
    chmod 644 "$1.pem"
}

# issue NAME CA_SECTION EXTENSIONS SAN SUBJECT [openssl ca date options...]
issue() {
    local name=$1 ca=$2 ext=$3 san=$4 subj=$5
    shift 5
    new_key "$name.key"
    quiet openssl req -config "$cnf" -new -key "$name.key" -subj "$subj" \
        -out "ca-db/$name.csr"
    CJX_SAN=$san quiet openssl ca -config "$cnf" -name "$ca" -batch -notext \
        -rand_serial -extensions "$ext" -in "ca-db/$name.csr" -out "$name.pem" "$@"
    chmod 644 "$name.pem"
}

agency_san() { # ORI [trust domain]
    echo "URI:spiffe://${2:-$td}/agency/$1, DNS:localhost, IP:127.0.0.1"
}

new_ca ca "/O=cjx development/CN=cjx development CA ($td)"
new_ca untrusted-ca "/O=cjx development/CN=untrusted CA"

for a in "${agencies[@]}"; do
    IFS='|' read -r slug ori role _county _name _port <<<"$a"
    issue "$slug" trusted_ca agency "$(agency_san "$ori")" \
        "/O=cjx development/OU=$role/CN=$ori" -days 365
done

# Negative fixtures. All but nosan and unknown claim to be the SF District
# Attorney, so that only the property under test is wrong.
sf_da_subj="/O=cjx development/OU=PROSECUTOR/CN=$sf_da_ori"
issue expired trusted_ca agency "$(agency_san $sf_da_ori)" "$sf_da_subj" \
    -startdate 20200101000000Z -enddate 20210101000000Z
issue notyet trusted_ca agency "$(agency_san $sf_da_ori)" "$sf_da_subj" \
    -startdate "$(date -u -d '+10 years' +%Y%m%d%H%M%SZ)" \
    -enddate "$(date -u -d '+11 years' +%Y%m%d%H%M%SZ)"
issue otherca untrusted_ca agency "$(agency_san $sf_da_ori)" "$sf_da_subj" -days 365
issue nosan trusted_ca no_san "" "$sf_da_subj" -days 365
issue unknown trusted_ca agency "$(agency_san $unknown_ori)" \
    "/O=cjx development/OU=PROSECUTOR/CN=$unknown_ori" -days 365
issue badusage trusted_ca server_only "$(agency_san $sf_da_ori)" "$sf_da_subj" -days 365
issue wrongdomain trusted_ca agency "$(agency_san $sf_da_ori "$other_td")" \
    "$sf_da_subj" -days 365
issue revoked trusted_ca agency "$(agency_san $sf_da_ori)" "$sf_da_subj" -days 365

# Revoke the "revoked" fixture and publish the CA's CRL in a hashed directory
# (the layout OpenSSL's CRL lookup by directory expects).
quiet openssl ca -config "$cnf" -name trusted_ca -revoke revoked.pem \
    -crl_reason keyCompromise
quiet openssl ca -config "$cnf" -name trusted_ca -gencrl -out crl.pem
chmod 644 crl.pem
cp crl.pem "crl/$(openssl crl -hash -noout -in crl.pem).r0"

# The agency registry every development daemon shares.
{
    echo "# Development agency registry (generated by make-dev-certs.sh)."
    echo "agencies:"
    for a in "${agencies[@]}"; do
        IFS='|' read -r slug ori role county name port <<<"$a"
        echo "  - ori: $ori"
        echo "    role: $role"
        echo "    county: \"$county\""
        echo "    endpoint: 127.0.0.1:$port"
        echo "    name: \"$name\""
    done
} >agencies.yaml

# The stand-in policy of each role's development daemon: it takes the
# agency's steps of the relief exchange automatically, in place of the
# agency's own case system (docs/config.md, exchange.stand_in).
standin_yaml() { # ROLE
    case $1 in
    PROSECUTOR)
        cat <<EOF
  stand_in:
    # No challenge where DOJ's rules found relief, as most prosecutors did;
    # a challenge (criteria not met) only where the rules saw another
    # Prop 64 charge in the same case, a small share as in the pilot
    # counties; cases the rules could not decide are left for a reviewer.
    prosecutor:
      eligible: no_challenge
      challenge_flags: [possible_other_p64_charge]
      human_review: pending
EOF
        ;;
    COURT)
        cat <<EOF
  stand_in:
    # Unchallenged cases wait for the judge's bulk order (cjxctl order
    # --bulk), as the pilot counties' presiding judges signed one order for
    # thousands; challenged cases are heard and denied (the stated rule of
    # this development court).
    court:
      unchallenged: pending
      challenged: deny
EOF
        ;;
    DOJ)
        cat <<EOF
  stand_in:
    # DOJ's criminal-history system applies each order and acknowledges it.
    doj:
      history_update: acknowledge
EOF
        ;;
    esac
}

# One daemon configuration per agency; paths are relative to the file.
for a in "${agencies[@]}"; do
    IFS='|' read -r slug ori role county name port <<<"$a"
    mkdir -p "run/$slug"
    chmod 700 "run/$slug"
    cat >"$slug.yaml" <<EOF
# Development configuration for $name ($ori), generated by
# make-dev-certs.sh. Relative paths are relative to this file.
agency: $ori
trust_domain: $td
listen: 127.0.0.1:$port
local_socket: run/$slug/cjxd.sock
state_dir: run/$slug
registry: agencies.yaml
rules: $rules_dir
log_level: info
tls:
  ca: ca.pem
  cert: $slug.pem
  key: $slug.key
  crl_dir: crl
# The relief exchange. Development runs come years after the statutory dates
# (1 July 2020 for decisions), so each deadline is a window from the step
# before it.
exchange:
  deadlines:
    notice: {days: 365}
    review: {days: 365}
    order_unchallenged: {days: 365}
    history_update: {days: 90}
  delivery:
    batch: 500
    streams_per_peer: 2
$(standin_yaml "$role")
EOF
done

echo "development certificates for trust domain $td written to $out"
