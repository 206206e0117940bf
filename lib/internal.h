/*
 * internal.h - what the library's files share and nobody else sees, one
 * header a layer, from the bottom up:
 *   util/util.h      errors, paths, problems
 *   io/io.h          file contents, opening files, locks
 *   format/format.h  the add-cow header and bitmap codecs
 *   chain/layer.h    the layer driver interface and the one chain walk
 *   image/image.h    the add-cow image handle
 *   ops/ops.h        whole-image operations and the bulk copy engine
 */
#ifndef ADDCOW_INTERNAL_H
#define ADDCOW_INTERNAL_H

#include "ops/ops.h"

#endif /* ADDCOW_INTERNAL_H */
