/* The component reference, from the components' own parameter tables
 * (plugin.h, ABI 1.5): `dlhost plugins --verbose` lines, and the Markdown
 * (README.md's reference block) and man page (dlhost-components(7)) that
 * `dlhost plugins --reference=markdown|man` prints.  Output depends only on
 * the components, never on paths, so it can be compared with the copy kept
 * in README.md. */
#ifndef DLHOST_CORE_REFERENCE_H
#define DLHOST_CORE_REFERENCE_H

#include <stddef.h>
#include <stdio.h>

#include "registry.h"

/* "float, default 1e-08, >= 0" into buf. */
void dlh_param_doc_text(const dlh_param_doc *d, char *buf, size_t size);

enum { DLH_REFERENCE_MARKDOWN = 0, DLH_REFERENCE_MAN = 1 };

/* The reference of list[0..n) (sorted by kind, then name) to out. */
void dlh_reference_print(FILE *out, const dlh_component *const *list, size_t n, int format);

#endif
