// SPDX-License-Identifier: Apache-2.0
/* fuzz_python's seed: a stand-in for libpython3.11 with the symbols py_runtime_probe looks for. */
const unsigned long Py_Version = 0x030b02f0;
char _PyRuntime[1024];
char PyCode_Type[64], PyUnicode_Type[64], PyBytes_Type[64];
void _PyEval_EvalFrameDefault(void);
void _PyEval_EvalFrameDefault(void)
{
}
