/* A schema with every field kind, shared by the C API tests and examples. */
#ifndef HEARTH_TESTS_CAPI_SCHEMA_H_
#define HEARTH_TESTS_CAPI_SCHEMA_H_
#define HEARTH_CAPI_TEST_SCHEMA                                                        \
  "format = 1\n"                                                                       \
  "[collections.worker]\nscope = \"hr.workers\"\n"                                     \
  "[collections.worker.fields]\n"                                                      \
  "name = { type = \"lww\", value = \"string\", index = true }\n"                      \
  "age = { type = \"lww\", value = \"int\", index = true }\n"                          \
  "score = { type = \"lww\", value = \"double\" }\n"                                   \
  "active = { type = \"lww\", value = \"bool\" }\n"                                    \
  "photo = { type = \"lww\", value = \"bytes\" }\n"                                    \
  "born = { type = \"lww\", value = \"timestamp\" }\n"                                 \
  "employer = { type = \"ref\", collection = \"worker\" }\n"                           \
  "work_area = { type = \"mv\", value = \"string\" }\n"                                \
  "skills = { type = \"set\", value = \"string\" }\n"                                  \
  "visits = { type = \"counter\" }\n"                                                  \
  "stage = { type = \"status\", order = [\"new\", \"verified\", \"closed\"] }\n"       \
  "notes = { type = \"log\", value = \"string\" }\n"
#endif
