#!/usr/bin/env bats
# addcow-img create: options, the Formatting line, the files it makes.

load helpers

# The files in the test's directory (bats keeps its own there too).
files() {
    ls -A "$@" | grep -v '^separate-stderr-'
}

info_field() {   # info_field FILE 'human label'
    "$IMG" info "$1" | sed -n "s/^ *$2: //p"
}

@test "create: the example of the add-cow proposal works verbatim" {
    make_raw ubuntu.img 3M 021 0:64k
    run "$IMG" create -f add-cow test.add-cow -o backing_file=ubuntu.img,image_file=test.raw
    assert_status 0
    assert_text "$output" "Formatting 'test.add-cow', fmt=add-cow cluster_size=65536 preallocation=off size=3145728 backing_file=ubuntu.img backing_fmt=raw image_file=test.raw image_fmt=raw"
    [ "$(stat -c %s test.raw)" = 3145728 ]
    [ "$(stat -c %s test.add-cow)" = 131072 ]
    run "$IO" -r -c 'read -q -P 0x11 0 64k' -c 'read -q -P 0 64k 3008k' test.add-cow
    assert_status 0
    assert_text "$output" ""
}

@test "create: the header is the spec's layout, byte for byte" {
    truncate -s 8M base.raw
    "$IMG" create -q -b base.raw -F raw -o image_file=disk.raw ov.add-cow
    # fixed part
    assert_text "$(hex_at ov.add-cow 0 44)" \
        "41434f574c000000080000005400000008000000100000000000000000000000000000000000000000000100"
    assert_text "$(hex_at ov.add-cow 44 16)" "72617700000000000000000000000000"
    assert_text "$(hex_at ov.add-cow 60 16)" "72617700000000000000000000000000"
    assert_text "$(hex_at ov.add-cow 76 16)" "626173652e7261776469736b2e726177"
    # the rest of the header and the bitmap are zero; 8 MiB / 64k = 128
    # clusters = 16 bytes of bitmap, padded to a whole cluster
    [ "$(stat -c %s ov.add-cow)" = 131072 ]
    cmp <(tail -c +93 ov.add-cow) <(head -c $((131072 - 92)) /dev/zero)
}

@test "create: the Formatting line goes to stdout, -q hides it" {
    run --separate-stderr "$IMG" create x.add-cow 1M
    assert_status 0
    assert_text "$stderr" ""
    assert_text "$output" "Formatting 'x.add-cow', fmt=add-cow cluster_size=65536 preallocation=off size=1048576 image_file=x.raw image_fmt=raw"
    run --separate-stderr "$IMG" create -q y.add-cow 1M
    assert_status 0
    assert_text "$output$stderr" ""
    [ -f y.add-cow ] && [ -f y.raw ]
}

@test "create: the image file is named after the add-cow file by default" {
    "$IMG" create -q x.add-cow 1M
    "$IMG" create -q disk 1M
    mkdir sub
    "$IMG" create -q sub/vm.add-cow 1M
    [ -f x.raw ] && [ -f disk.raw ] && [ -f sub/vm.raw ]
    assert_text "$(info_field sub/vm.add-cow 'image file')" "vm.raw"
    assert_text "$(info_field sub/vm.add-cow 'full image filename')" "sub/vm.raw"
}

@test "create: without a backing file the image is all allocated" {
    "$IMG" create -q x.add-cow 1M
    assert_text "$(info_field x.add-cow 'all allocated')" true
    assert_text "$(info_field x.add-cow 'compat features')" 1
    [ "$(stat -c %s x.raw)" = 1048576 ]
}

@test "create: the size is taken from the backing file" {
    make_raw base.raw 3M 021 0:64k
    run "$IMG" create -b base.raw -F raw ov.add-cow
    assert_status 0
    [ "$(stat -c %s ov.raw)" = 3145728 ]
    [[ $output == *" size=3145728 "* ]]
}

@test "create: a given size may differ from the backing file's" {
    make_raw base.raw 1M 021 0:64k
    "$IMG" create -q -b base.raw -F raw big.add-cow 2M
    "$IMG" create -q -b base.raw -F raw small.add-cow 512k
    [ "$(stat -c %s big.raw)" = 2097152 ]
    [ "$(stat -c %s small.raw)" = 524288 ]
}

@test "create: an existing image file keeps its contents and size" {
    make_raw disk.raw 1M 125 0:1M
    run "$IMG" create -o image_file=disk.raw disk.add-cow
    assert_status 0
    [[ $output == *" size=1048576 "* ]]
    run "$IO" -r -c 'read -q -P 0x55 0 1M' disk.add-cow
    assert_status 0
    rm disk.add-cow
    run "$IMG" create -q -o image_file=disk.raw disk.add-cow 1M
    assert_status 0
    run "$IO" -r -c 'read -q -P 0x55 0 1M' disk.add-cow
    assert_status 0
}

@test "create: a size that does not match an existing image file is refused" {
    truncate -s 1M disk.raw
    run --separate-stderr "$IMG" create -o image_file=disk.raw disk.add-cow 2M
    assert_status 1
    [[ $stderr == "addcow-img: disk.add-cow: "* ]]
    [ ! -e disk.add-cow ]
    [ "$(stat -c %s disk.raw)" = 1048576 ]
}

@test "create: an existing add-cow file is not replaced without --force" {
    "$IMG" create -q x.add-cow 1M
    cp x.add-cow before
    run --separate-stderr "$IMG" create x.add-cow 1M
    assert_status 1
    assert_text "$stderr" "addcow-img: x.add-cow: file exists (use --force to overwrite it)"
    assert_text "$output" ""
    cmp before x.add-cow
    make_raw base.raw 1M 021 0:64k
    run "$IMG" create -q --force -b base.raw -F raw x.add-cow
    assert_status 0
    assert_text "$(info_field x.add-cow 'backing file')" base.raw
}

@test "create: a size is needed without a backing file" {
    run --separate-stderr "$IMG" create x.add-cow
    assert_status 1
    assert_text "$stderr" "addcow-img: x.add-cow: Image creation needs a size parameter"
    [ ! -e x.add-cow ] && [ ! -e x.raw ]
}

@test "create: a missing backing file is an error, nothing is left behind" {
    mkdir w && cd w
    run --separate-stderr "$IMG" create -b nosuch.raw -F raw x.add-cow 1M
    assert_status 1
    [[ $stderr == "addcow-img: x.add-cow: "*"nosuch.raw"* ]]
    assert_text "$(ls -A)" ""
}

@test "create: -u does not open the backing file, but needs -F and a size" {
    run --separate-stderr "$IMG" create -u -b nosuch.raw -F raw x.add-cow
    assert_status 1
    [[ $stderr == "addcow-img: x.add-cow: "* ]]
    run --separate-stderr "$IMG" create -u -b nosuch.raw x.add-cow 1M
    assert_status 1
    assert_text "$stderr" "addcow-img: x.add-cow: a backing format (-F) is needed when the backing file is not opened (-u)"
    [ ! -e x.add-cow ]
    run "$IMG" create -u -b nosuch.raw -F raw x.add-cow 1M
    assert_status 0
    assert_text "$output" "Formatting 'x.add-cow', fmt=add-cow cluster_size=65536 preallocation=off size=1048576 backing_file=nosuch.raw backing_fmt=raw image_file=x.raw image_fmt=raw"
}

@test "create: without -F the backing format is probed once" {
    truncate -s 1M base.raw
    "$IMG" create -q -b base.raw mid.add-cow
    run "$IMG" create -b mid.add-cow top.add-cow
    assert_status 0
    [[ $output == *" backing_file=mid.add-cow backing_fmt=add-cow "* ]]
    assert_text "$(info_field mid.add-cow 'backing file format')" raw
    assert_text "$(info_field top.add-cow 'backing file format')" add-cow
}

@test "create: -F add-cow over an add-cow image" {
    truncate -s 1M base.raw
    "$IMG" create -q -b base.raw -F raw mid.add-cow
    run "$IMG" create -q -b mid.add-cow -F add-cow top.add-cow
    assert_status 0
    run "$IMG" info --backing-chain top.add-cow
    assert_status 0
}

@test "create: a relative backing name is relative to the add-cow file" {
    truncate -s 1M golden.img
    mkdir vms
    run "$IMG" create -q -b ../golden.img -F raw vms/vm1.add-cow
    assert_status 0
    run "$IMG" info vms/vm1.add-cow
    [[ $output == *"backing file: ../golden.img (actual path: vms/../golden.img)"* ]]
    run --separate-stderr "$IMG" create -q -b golden.img -F raw vms/vm2.add-cow
    assert_status 1
    [[ $stderr == *"vms/golden.img"* ]]
}

@test "create: -b and -F win over -o backing_file and backing_fmt" {
    truncate -s 1M a.raw b.raw
    run "$IMG" create -b b.raw -F raw -o backing_file=a.raw,backing_fmt=add-cow x.add-cow
    assert_status 0
    [[ $output == *" backing_file=b.raw backing_fmt=raw "* ]]
}

@test "create: -o cluster_size" {
    local cs
    for cs in 4k 8192 1M 2M; do
        rm -f c.add-cow c.raw
        run "$IMG" create -o cluster_size=$cs c.add-cow 4M
        assert_status 0
        [[ $output == *" cluster_size=$(to_bytes $cs) "* ]]
        assert_text "$(info_field c.add-cow cluster_size)" "$(to_bytes $cs)"
    done
    # HEADER_SIZE = max(4096, cluster size)
    rm -f c.add-cow c.raw
    "$IMG" create -q -o cluster_size=4k c.add-cow 4M
    assert_text "$(info_field c.add-cow 'header size')" 4096
    for cs in 2k 3k 4M 0 6144; do
        run --separate-stderr "$IMG" create -o cluster_size=$cs d.add-cow 4M
        assert_status 1
        assert_text "$stderr" "addcow-img: d.add-cow: cluster size must be a power of two between 4k and 2M"
    done
    run --separate-stderr "$IMG" create -o cluster_size=big d.add-cow 4M
    assert_status 1
    assert_text "$stderr" "addcow-img: d.add-cow: Parameter 'cluster_size' expects a non-negative number below 2^64
Optional suffix k, M, G, T, P or E means kilo-, mega-, giga-, tera-, peta-
and exabytes, respectively."
    [ ! -e d.add-cow ]
}

@test "create: -o preallocation of a new image file" {
    run "$IMG" create -o preallocation=off s.add-cow 4M
    assert_status 0
    [[ $output == *" preallocation=off "* ]]
    [ "$(stat -c %b s.raw)" -eq 0 ]
    run "$IMG" create -o preallocation=falloc f.add-cow 4M
    assert_status 0
    [[ $output == *" preallocation=falloc "* ]]
    [ "$(( $(stat -c %b f.raw) * 512 ))" -ge 4194304 ]
    run "$IMG" create -o preallocation=full z.add-cow 4M
    assert_status 0
    [[ $output == *" preallocation=full "* ]]
    [ "$(( $(stat -c %b z.raw) * 512 ))" -ge 4194304 ]
    cmp z.raw <(head -c 4194304 /dev/zero)
    run --separate-stderr "$IMG" create -o preallocation=metadata m.add-cow 4M
    assert_status 1
    assert_text "$stderr" "addcow-img: m.add-cow: Parameter 'preallocation' does not accept value 'metadata'"
}

@test "create: -o size, -o image_fmt, several -o, ',,' in a value" {
    run "$IMG" create -o size=3M -o image_fmt=raw s.add-cow
    assert_status 0
    [[ $output == *" size=3145728 "* ]]
    run --separate-stderr "$IMG" create -q -o size=3M s2.add-cow 1M
    assert_status 1                                     # as qemu-img
    assert_text "$stderr" "addcow-img: s2.add-cow: The image size must be specified only once"
    [ ! -e s2.add-cow ] && [ ! -e s2.raw ]
    run "$IMG" create -o image_file=a,,b.raw c.add-cow 1M
    assert_status 0
    [[ $output == *" image_file=a,b.raw "* ]]
    [ -f a,b.raw ]
    run --separate-stderr "$IMG" create -o image_fmt=qcow2 q.add-cow 1M
    assert_status 1
    [[ $stderr == "addcow-img: q.add-cow: "*"qcow2"* ]]
}

@test "create: -o help lists the keys" {
    run "$IMG" create -o help
    assert_status 0
    assert_text "$output" "Supported add-cow options:
  backing_file=<str>     - File name of a base image
  backing_fmt=<str>      - Image format of the base image (raw, qcow2 or add-cow)
  cluster_size=<size>    - add-cow cluster size (4k to 2M, a power of two)
  image_file=<str>       - File name of the raw image file holding the data
  image_fmt=<str>        - Image format of the image file (allowed values: raw)
  preallocation=<str>    - Preallocation mode of a new image file (allowed values: off, falloc, full)
  size=<size>            - Virtual disk size"
    run "$IMG" create -o cluster_size=4k,? x.add-cow 1M
    assert_status 0
    [[ ${lines[0]} == "Supported add-cow options:" ]]
    [ ! -e x.add-cow ]
}

@test "create: an unknown -o key is refused" {
    run --separate-stderr "$IMG" create -o bogus=1 x.add-cow 1M
    assert_status 1
    assert_text "$stderr" "addcow-img: x.add-cow: Invalid parameter 'bogus'"
    run --separate-stderr "$IMG" create -o data_file=x x.add-cow 1M
    assert_status 1
    assert_text "$stderr" "addcow-img: x.add-cow: Invalid parameter 'data_file'"
    [ ! -e x.add-cow ]
}

@test "create: image and backing file may not be the same" {
    truncate -s 1M same.raw
    run --separate-stderr "$IMG" create -b same.raw -F raw -o image_file=same.raw x.add-cow
    assert_status 1
    [[ $stderr == "addcow-img: x.add-cow: "* ]]
    [ ! -e x.add-cow ]
}

@test "create: both files get 0644 less the umask, as qemu-img's do" {
    (umask 022 && "$IMG" create -q a.add-cow 1M)
    [ "$(stat -c %a a.add-cow) $(stat -c %a a.raw)" = "644 644" ]
    (umask 077 && "$IMG" create -q b.add-cow 1M)
    [ "$(stat -c %a b.add-cow) $(stat -c %a b.raw)" = "600 600" ]
    (umask 027 && "$IMG" create -q c.add-cow 1M)
    [ "$(stat -c %a c.add-cow) $(stat -c %a c.raw)" = "640 640" ]
}

# ---- leftovers, sizes and options as qemu-img takes them ----------------

@test "create: a leftover default image file is not silently reused" {
    "$IMG" create -q x.add-cow 1M
    "$IO" -c 'write -q -P 0xaa 0 1M' x.add-cow
    rm x.add-cow
    run --separate-stderr "$IMG" create x.add-cow 1M
    assert_status 1
    assert_text "$stderr" "addcow-img: x.add-cow: image file 'x.raw' exists already: name it with -o image_file=x.raw to use its contents, or use --force to replace it"
    [ ! -e x.add-cow ]
    # as the message says: adopt it ...
    run "$IMG" create -q -o image_file=x.raw x.add-cow
    assert_status 0
    run "$IO" -r -c 'read -q -P 0xaa 0 1M' x.add-cow
    assert_status 0
    # ... or replace it: a fresh disk, of a new size (qemu-img gives one)
    run "$IMG" create --force x.add-cow 2M
    assert_status 0
    [ "$(stat -c %s x.raw)" = 2097152 ]
    run "$IO" -r -c 'read -q -P 0 0 2M' x.add-cow
    assert_status 0
    assert_text "$(files)" "x.add-cow
x.raw"
}

@test "create: a leftover image file does not change the size taken from the backing" {
    make_raw base.raw 4M 021 0:64k
    truncate -s 2M vm.raw
    run --separate-stderr "$IMG" create -b base.raw -F raw vm.add-cow
    assert_status 1
    [[ $stderr == *"image file 'vm.raw' exists already"* ]]
    run "$IMG" create -q --force -b base.raw -F raw vm.add-cow
    assert_status 0
    [ "$(stat -c %s vm.raw)" = 4194304 ]
}

@test "create: size 0 is accepted, as by qemu-img" {
    need_qemu
    run qemu-img create -q -f qcow2 -o data_file=q.raw q.qcow2 0
    assert_status 0
    run "$IMG" create z.add-cow 0
    assert_status 0
    assert_text "$output" "Formatting 'z.add-cow', fmt=add-cow cluster_size=65536 preallocation=off size=0 image_file=z.raw image_fmt=raw"
    [ "$(stat -c %s z.raw)" = 0 ]
    run "$IMG" check z.add-cow
    assert_status 0
}

@test "create: the size given twice is refused with qemu-img's words" {
    need_qemu
    run --separate-stderr qemu-img create -f qcow2 -o data_file=q.raw q.qcow2 1M -o size=2M
    assert_status 1
    local qemu=$stderr
    run --separate-stderr "$IMG" create x.add-cow 1M -o size=2M
    assert_status 1
    assert_text "$stderr" "${qemu//qemu-img: q.qcow2:/addcow-img: x.add-cow:}"
    assert_text "$stderr" "addcow-img: x.add-cow: The image size must be specified only once"
    [ ! -e x.add-cow ] && [ ! -e x.raw ]
}

@test "create: -F without -b is refused with qemu-img's words" {
    need_qemu
    run --separate-stderr qemu-img create -f qcow2 -F raw -o data_file=q.raw q.qcow2 1M
    assert_status 1
    local qemu=$stderr
    run --separate-stderr "$IMG" create -F raw x.add-cow 1M
    assert_status 1
    assert_text "$stderr" "${qemu//qemu-img: q.qcow2:/addcow-img: x.add-cow:}"
    [ ! -e x.add-cow ] && [ ! -e x.raw ]
}

@test "create: the Formatting line has qemu-img's key order" {
    need_qemu
    make_raw base.raw 1M 021 0:64k
    run qemu-img create -f qcow2 -b base.raw -F raw -o data_file=q.raw,preallocation=off q.qcow2 1M
    local keys='cluster_size|preallocation|size|backing_file|backing_fmt'
    local qemu
    qemu=$(grep -oE " ($keys|data_file)=" <<<"$output" | sed 's/data_file/image_file/' | tr -d '\n')
    run "$IMG" create -b base.raw -F raw x.add-cow 1M
    assert_status 0
    assert_text "$(grep -oE " ($keys|image_file)=" <<<"$output" | tr -d '\n')" "$qemu"
}

# ---- locks and self-references -----------------------------------------

@test "create --force over an image another process writes is refused, as by qemu-img" {
    "$IMG" create -q x.add-cow 1M
    cp x.add-cow before.add-cow
    start_writer x.add-cow
    run --separate-stderr "$IMG" create --force x.add-cow 1M
    assert_status 1
    assert_text "$stderr" 'addcow-img: x.add-cow: Failed to get "write" lock
Is another process using the image [x.add-cow]?'
    run --separate-stderr "$IMG" create --force -o image_file=x.raw x.add-cow
    assert_status 1
    [[ $stderr == *'Failed to get "write" lock'* ]]
    stop_writer
    cmp before.add-cow x.add-cow
    assert_text "$(files)" "before.add-cow
x.add-cow
x.raw"
    run "$IMG" create -q --force x.add-cow 1M        # free again
    assert_status 0
}

@test "create --force: the image file of the replaced image is locked too" {
    "$IMG" create -q -o image_file=data.raw x.add-cow 1M
    "$IMG" create -q -o image_file=data.raw y.add-cow
    start_writer y.add-cow          # holds data.raw, not x.add-cow
    run --separate-stderr "$IMG" create --force -o image_file=new.raw x.add-cow 1M
    assert_status 1
    # an image file plays qemu's data-file role: qemu-img names "resize"
    assert_text "$stderr" 'addcow-img: x.add-cow: Failed to get "resize" lock
Is another process using the image [data.raw]?'
    stop_writer
    [ ! -e new.raw ]
}

@test "create: adopting an image file another image is writing is refused" {
    "$IMG" create -q v.add-cow 1M
    start_writer v.add-cow
    run --separate-stderr "$IMG" create -o image_file=v.raw w.add-cow
    assert_status 1
    # as qemu-img create -o data_file=v.raw says when v.raw is in use
    assert_text "$stderr" 'addcow-img: w.add-cow: Failed to get "resize" lock
Is another process using the image [v.raw]?'
    stop_writer
    [ ! -e w.add-cow ]
}

@test "create: qemu-img refuses the same way over a qcow2 another process writes" {
    need_qemu
    qemu-img create -q -f qcow2 -o data_file=q.raw q.qcow2 1M
    coproc HOLDER { qemu-io -f qcow2 q.qcow2; }
    local pid=$HOLDER_PID
    exec {H_IN}>&"${HOLDER[1]}"
    sleep 1
    run --separate-stderr qemu-img create -f qcow2 q.qcow2 1M
    local st=$status err=$stderr
    run --separate-stderr qemu-img create -f qcow2 -o data_file=q.raw r.qcow2 1M
    echo quit >&"$H_IN"
    exec {H_IN}>&-
    wait "$pid" || true
    assert_text "$st $err" '1 qemu-img: q.qcow2: Failed to get "write" lock
Is another process using the image [q.qcow2]?'
    assert_status 1                 # its data file: the "resize" lock
    assert_text "$stderr" 'qemu-img: r.qcow2: Failed to get "resize" lock
Is another process using the image [q.raw]?'
}

@test "create: an image that is its own image or backing file is refused before writing" {
    run --separate-stderr "$IMG" create -o image_file=self.add-cow --force self.add-cow 1M
    assert_status 1
    assert_text "$stderr" "addcow-img: self.add-cow: it is the image file 'self.add-cow' of the new image"
    run --separate-stderr "$IMG" create -u -b me.add-cow -F add-cow me.add-cow 1M
    assert_status 1
    assert_text "$stderr" "addcow-img: me.add-cow: it is the backing file 'me.add-cow' of the new image"
    mkdir d
    run --separate-stderr "$IMG" create -u -b ../d/me.add-cow -F add-cow d/me.add-cow 1M
    assert_status 1
    assert_text "$(files . d)" ".:
d

d:"
}

@test "create -b / rebase -b: a chain one layer too deep is refused, naming the backing" {
    truncate -s 1M base.raw
    "$IMG" create -q -b base.raw -F raw l1.add-cow
    local i
    for i in $(seq 2 31); do
        "$IMG" create -q -b l$((i - 1)).add-cow -F add-cow l$i.add-cow
    done
    run "$IMG" info --backing-chain l31.add-cow     # 32 layers with base.raw: the limit
    assert_status 0
    run --separate-stderr "$IMG" create -b l31.add-cow -F add-cow top.add-cow
    assert_status 1
    assert_text "$stderr" "addcow-img: top.add-cow: backing file 'l31.add-cow' is a chain of 32 layers: one more on top would be deeper than 32 layers"
    [ ! -e top.add-cow ] && [ ! -e top.raw ]
    "$IMG" create -q -b base.raw -F raw top.add-cow
    run --separate-stderr "$IMG" rebase -b l31.add-cow -F add-cow top.add-cow
    assert_status 1
    assert_text "$stderr" "addcow-img: top.add-cow: backing file 'l31.add-cow' is a chain of 32 layers: one more on top would be deeper than 32 layers"
    run "$IMG" info top.add-cow
    [[ $output == *"backing file: base.raw"* ]]
    run "$IMG" create -q -b l30.add-cow -F add-cow ok.add-cow
    assert_status 0
}

@test "create and rebase work with 255-byte file names, as qemu-img does" {
    local long
    long=$(printf 'a%.0s' $(seq 247)).add-cow      # 255 bytes
    [ ${#long} = 255 ]
    run "$IMG" create -q "$long" 1M
    assert_status 0
    [ -f "${long%.add-cow}.raw" ]
    run "$IMG" create -q --force "$long" 1M
    assert_status 0
    truncate -s 1M b.raw
    run "$IMG" rebase -u -b b.raw -F raw "$long"
    assert_status 0
    run "$IMG" rebase -b "" "$long"
    assert_status 0
    run "$IMG" check "$long"
    assert_status 0
}

# ---- rebase and flatten rewrite the header in place (spec 7a) -------------

@test "rewrite: the add-cow file keeps its inode, hard links, mode and xattrs" {
    make_raw a.raw 1M 021 0:64k
    make_raw b.raw 1M 021 0:64k
    "$IMG" create -q -b a.raw -F raw top.add-cow
    ln top.add-cow link.add-cow
    chmod 640 top.add-cow
    local xattr=yes
    python3 -c 'import os; os.setxattr("top.add-cow", "user.label", b"vm7")' 2>/dev/null || xattr=
    local ino
    ino=$(stat -c %i top.add-cow)
    run "$IMG" rebase -b b.raw -F raw top.add-cow
    assert_status 0
    [ "$(stat -c '%i %h %a' top.add-cow)" = "$ino 2 640" ]
    cmp top.add-cow link.add-cow
    assert_text "$(info_field link.add-cow 'backing file')" b.raw
    if [ -n "$xattr" ]; then
        assert_text "$(python3 -c 'import os; print(os.getxattr("top.add-cow", "user.label").decode())')" vm7
    fi
    run "$IMG" rebase -b "" top.add-cow
    assert_status 0
    [ "$(stat -c '%i %h %a' top.add-cow)" = "$ino 2 640" ]
    assert_text "$(info_field link.add-cow 'all allocated')" true
    run "$IMG" check top.add-cow
    assert_status 0
    assert_text "$(files)" "a.raw
b.raw
link.add-cow
top.add-cow
top.raw"
}

@test "rewrite: the names move, the rest of the name area stays zero" {
    truncate -s 1M a.raw long-backing-name.raw
    "$IMG" create -q -b a.raw -F raw top.add-cow
    "$IMG" rebase -u -b long-backing-name.raw -F raw top.add-cow
    # old "a.raw" at 76 and "top.raw" at 81 stay in place until the new
    # name, after them at 88, is durable; then "a.raw" is zeroed
    assert_text "$(hex_at top.add-cow 4 16)" "58000000150000005100000007000000"
    assert_text "$(hex_at top.add-cow 76 5)" "0000000000"
    run "$IMG" check top.add-cow
    assert_status 0
    run "$IMG" rebase -u -b a.raw -F raw top.add-cow          # fits at 76
    assert_status 0
    assert_text "$(hex_at top.add-cow 4 4)" "4c000000"
    run "$IMG" check top.add-cow
    assert_status 0
}

@test "rewrite: a backing name that does not fit beside the current ones is refused" {
    truncate -s 1M a.raw
    "$IMG" create -q -o cluster_size=4k -b a.raw -F raw top.add-cow
    cp top.add-cow before
    local name
    name=$(printf './%.0s' $(seq 2004))/a.raw          # 4014 bytes
    run --separate-stderr "$IMG" rebase -u -b "$name" -F raw top.add-cow
    assert_status 1
    assert_text "$stderr" "addcow-img: top.add-cow: the new backing name (4014 bytes) does not fit beside the current names in the 4096-byte header"
    cmp before top.add-cow
}

@test "rewrite: needs no write permission on the directory (user nobody)" {
    [ "$(id -u)" = 0 ] || skip "needs root to switch to nobody"
    local d
    d=$(mktemp -d /tmp/addcow-nobody.XXXXXX)
    chmod 755 "$d"
    make_raw "$d/a.raw" 1M 021 0:64k
    make_raw "$d/b.raw" 1M 021 0:64k
    "$IMG" create -q -b a.raw -F raw "$d/top.add-cow"
    "$IO" -c 'write -q -P 0x33 64k 64k' "$d/top.add-cow"
    chown nobody "$d"/*
    local as_nobody=(setpriv --reuid=nobody --regid=nogroup --clear-groups)
    run --separate-stderr "${as_nobody[@]}" "$IMG" rebase -u -b b.raw -F raw "$d/top.add-cow"
    local st1=$status err1=$stderr
    run --separate-stderr "${as_nobody[@]}" "$IMG" rebase -b "" "$d/top.add-cow"
    local st2=$status err2=$stderr
    run "$IMG" check "$d/top.add-cow"
    local st3=$status
    local owner
    owner=$(stat -c %U "$d/top.add-cow")
    run "$IO" -r -c 'read -q -P 0x11 0 64k' -c 'read -q -P 0x33 64k 64k' -c 'read -q -P 0 128k 896k' "$d/top.add-cow"
    local st4=$status
    rm -rf "$d"
    assert_text "$st1 $err1" "0 "
    assert_text "$st2 $err2" "0 "
    assert_text "$st3 $owner $st4" "0 nobody 0"
}
