// SPDX-License-Identifier: Apache-2.0
/*
 * The 3.11 structure offsets as CPython's own headers (python3.11-dev, built
 * with Py_BUILD_CORE for the internal ones) lay them out, for test_python.c
 * to compare with symbolize/src/python.c's table. Compiled only when the
 * headers are installed.
 */
#define Py_BUILD_CORE 1
#include <Python.h>
#include <stddef.h>

#include "internal/pycore_code.h"
#include "internal/pycore_frame.h"
#include "internal/pycore_interp.h"
#include "internal/pycore_runtime.h"

#include "symbolize/python.h"

void py311_offsets(struct py_layout *l, uint32_t *hexversion);

void py311_offsets(struct py_layout *l, uint32_t *hexversion)
{
	*hexversion = PY_VERSION_HEX;
	l->runtime_interp_head = offsetof(_PyRuntimeState, interpreters.head);
	l->interp_next = offsetof(PyInterpreterState, next);
	l->interp_threads_head = offsetof(PyInterpreterState, threads.head);
	l->tstate_next = offsetof(PyThreadState, next);
	l->tstate_native_tid = offsetof(PyThreadState, native_thread_id);
	l->tstate_cframe = offsetof(PyThreadState, cframe);
	l->cframe_current_frame = offsetof(_PyCFrame, current_frame);
	l->frame_code = offsetof(_PyInterpreterFrame, f_code);
	l->frame_previous = offsetof(_PyInterpreterFrame, previous);
	l->frame_prev_instr = offsetof(_PyInterpreterFrame, prev_instr);
	l->frame_is_entry = offsetof(_PyInterpreterFrame, is_entry);
	l->frame_owner = offsetof(_PyInterpreterFrame, owner);
	l->code_filename = offsetof(PyCodeObject, co_filename);
	l->code_name = offsetof(PyCodeObject, co_name);
	l->code_qualname = offsetof(PyCodeObject, co_qualname);
	l->code_linetable = offsetof(PyCodeObject, co_linetable);
	l->code_firstlineno = offsetof(PyCodeObject, co_firstlineno);
	l->code_firsttraceable = offsetof(PyCodeObject, _co_firsttraceable);
	l->code_code = offsetof(PyCodeObject, co_code_adaptive);
	l->bytes_size = offsetof(PyVarObject, ob_size);
	l->bytes_data = offsetof(PyBytesObject, ob_sval);
	l->str_length = offsetof(PyASCIIObject, length);
	l->str_state = offsetof(PyASCIIObject, state);
	l->str_ascii_data = sizeof(PyASCIIObject);
	l->str_compact_data = sizeof(PyCompactUnicodeObject);
	l->frame_owned_by_generator = FRAME_OWNED_BY_GENERATOR;
}
