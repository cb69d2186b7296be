/* SPDX-License-Identifier: Apache-2.0 */
/* Start-up checks: each failure is logged with its cause and the fix. */
#ifndef STACKD_AGENT_CHECKS_H
#define STACKD_AGENT_CHECKS_H

/* Returns 0 when stackd can load and attach its programs here, else -errno (logged). */
int checks_run(void);

#endif
