/* township_desk: a township office's desk program in plain C99 over the C
 * API (include/hearth/hearth.h). It opens its replica, registers a rural
 * migrant worker, reads the record back as JSON and exports a bundle for
 * the labour bureau (the USB flow of docs/bundle-format.md).
 *   township_desk DIR        (creates DIR/replica and DIR/desk.bundle) */
#include <stdio.h>
#include <string.h>

#include <hearth/hearth.h>

static const char* kSchema =
    "format = 1\n"
    "[collections.worker]\nscope = \"hr.workers\"\n"
    "[collections.worker.fields]\n"
    "name = { type = \"lww\", value = \"string\", index = true }\n"
    "township = { type = \"lww\", value = \"string\", index = true }\n"
    "skills = { type = \"set\", value = \"string\" }\n"
    "visits = { type = \"counter\" }\n";

/* Prints the failed call and the library's message; returns 1. */
static int fail(const char* what, int rc) {
  fprintf(stderr, "township_desk: %s: %s: %s\n", what, hearth_code_name(rc), hearth_last_error());
  return 1;
}

static hearth_value text(const char* s) {
  hearth_value v;
  memset(&v, 0, sizeof v);
  v.type = HEARTH_VALUE_STRING;
  v.data = s;
  v.size = strlen(s);
  return v;
}

int main(int argc, char** argv) {
  char path[4096], id[33];
  hearth_options* options = NULL;
  hearth_replica* replica = NULL;
  hearth_batch* batch = NULL;
  hearth_commit_info info;
  hearth_value name = text("张伟"), township = text("城厢镇"), skill = text("masonry");
  char* record = NULL;
  char* report = NULL;
  int rc;

  if (argc != 2) {
    fprintf(stderr, "usage: township_desk DIR\n");
    return 2;
  }
  if (hearth_abi_version() != HEARTH_ABI_VERSION) {
    fprintf(stderr, "township_desk: built for ABI %d, library is %d\n", HEARTH_ABI_VERSION, hearth_abi_version());
    return 1;
  }
  snprintf(path, sizeof path, "%s/replica", argv[1]);

  if ((rc = hearth_options_new(&options)) != HEARTH_OK) return fail("options", rc);
  hearth_options_set_unencrypted_identity(options, 1); /* example only: real desks set a passphrase */
  if ((rc = hearth_options_set_schema_toml(options, kSchema)) != HEARTH_OK) return fail("schema", rc);
  rc = hearth_replica_open(path, options, &replica);
  hearth_options_free(options);
  if (rc != HEARTH_OK) return fail("open", rc);
  rc = hearth_replica_create_scope_key(replica, "hr.workers");
  if (rc != HEARTH_OK && rc != HEARTH_ALREADY_EXISTS) return fail("scope key", rc);

  /* One batch = one signed, encrypted delta. */
  if ((rc = hearth_record_id_generate(id, sizeof id)) != HEARTH_OK) return fail("id", rc);
  if ((rc = hearth_batch_new(&batch)) != HEARTH_OK) return fail("batch", rc);
  if ((rc = hearth_batch_set(batch, "worker", id, "name", &name)) != HEARTH_OK ||
      (rc = hearth_batch_set(batch, "worker", id, "township", &township)) != HEARTH_OK ||
      (rc = hearth_batch_add(batch, "worker", id, "skills", &skill)) != HEARTH_OK ||
      (rc = hearth_batch_increment(batch, "worker", id, "visits", 1)) != HEARTH_OK) {
    return fail("batch op", rc);
  }
  rc = hearth_replica_commit(replica, batch, &info);
  hearth_batch_free(batch);
  if (rc != HEARTH_OK) return fail("commit", rc);
  printf("registered worker %s (delta seq %llu, %llu ops)\n", id, (unsigned long long)info.last_seq,
         (unsigned long long)info.op_count);

  if ((rc = hearth_replica_get_json(replica, "worker", id, &record)) != HEARTH_OK) return fail("get", rc);
  printf("read back: %s\n", record);
  hearth_free(record);

  /* Everything this replica holds, for the bureau's USB stick. */
  snprintf(path, sizeof path, "%s/desk.bundle", argv[1]);
  remove(path);
  if ((rc = hearth_bundle_export(replica, NULL, path, &report)) != HEARTH_OK) return fail("export", rc);
  printf("bundle %s: %s\n", path, report);
  hearth_free(report);

  if ((rc = hearth_replica_close(replica)) != HEARTH_OK) return fail("close", rc);
  return 0;
}
