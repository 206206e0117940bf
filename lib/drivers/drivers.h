/*
 * drivers.h - what the library needs from the raw and add-cow drivers
 * beyond the layer interface (layer.h): the operations that write
 * (commit) reach the file or image behind a layer.
 */
#ifndef ADDCOW_DRIVERS_H
#define ADDCOW_DRIVERS_H

#include <stdbool.h>
#include <stdint.h>

#include "chain/layer.h"

struct acfile;
struct addcow;

/* The file of a raw layer, or NULL when L is not one. */
struct acfile *raw_layer_file (struct layer *l);

/* The image behind an add-cow layer, or NULL when L is not one. */
struct addcow *addcow_layer_image (const struct layer *l);

/* The run of IMG at OFFSET (< its virtual size), at most MAX bytes (>
 * 0, inside the disk), whose clusters are all allocated or all not
 * (*ALLOCATED): its length.  The scan goes no further than the request. */
uint64_t addcow_run (struct addcow *img, uint64_t offset, uint64_t max,
                     bool *allocated);

/* Make IMG's own layer (img->self) describe it as a layer at DEPTH. */
void addcow_layer_init (struct addcow *img, unsigned depth);

#endif /* ADDCOW_DRIVERS_H */
