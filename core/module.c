/**
 * @file module.c  Loading modules with libre's mod API
 *
 * Modules are shared objects in the module directory (sipd -m, else
 * module_path, else the one compiled in; a module missing there is
 * looked for in "modules" beside the sipd binary, as in a build that is
 * not installed). A role named in a listen line loads its module by
 * itself, and the modules of the services it needs when no "module NAME"
 * line names them; the core adds the one every sipd loads (the guard),
 * first. Modules are loaded once, at start: a reload only checks that
 * the modules it names exist.
 *
 * Copyright (C) 2026 sipd developers
 */

#include <string.h>
#include <ctype.h>
#include <unistd.h>
#include <re.h>
#include "core.h"


#ifndef SIPD_MODULE_PATH
#define SIPD_MODULE_PATH "/usr/local/lib/sipd/modules"
#endif


struct module_ref {
	struct le le;
	char *name;
	struct mod *mod;
	const struct config_line *line;
};


static struct {
	char *path;            /* from -m, overrides the config */
	char *conf_path;       /* module_path of the config */
	struct list refs;      /* struct module_ref, in load order */
	const struct mod_export *const *builtin;   /* NULL-terminated */
} mods;


static void ref_destructor(void *arg)
{
	struct module_ref *ref = arg;

	list_unlink(&ref->le);
	mem_deref(ref->mod);
	mem_deref(ref->name);
}


/**
 * Set the module directory, overriding module_path of the config
 *
 * @param path Directory
 *
 * @return 0 if success, otherwise errorcode
 */
int module_path_set(const char *path)
{
	mods.path = mem_deref(mods.path);

	return path ? str_dup(&mods.path, path) : 0;
}


/**
 * Name modules linked into the program (the fuzzing harnesses): they are
 * started from their exports instead of loaded from the module directory
 *
 * @param list NULL-terminated exports, or NULL for none
 */
void module_builtin_set(const struct mod_export *const *list)
{
	mods.builtin = list;
}


static const struct mod_export *builtin_find(const char *name)
{
	const struct mod_export *const *me;

	for (me = mods.builtin; me && *me; me++) {
		if (!str_casecmp((*me)->name, name))
			return *me;
	}

	return NULL;
}


static const char *module_dir(void)
{
	if (mods.path)
		return mods.path;

	return mods.conf_path ? mods.conf_path : SIPD_MODULE_PATH;
}


/* The "modules" folder beside the running binary (build/sipd and
   build/modules of a build that is not installed), "" if unknown */
static const char *beside_dir(void)
{
	static char dir[512];
	char exe[480];
	ssize_t n;
	char *slash;

	if (*dir)
		return dir;

	n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	if (n <= 0)
		return "";
	exe[n] = '\0';

	slash = strrchr(exe, '/');
	if (!slash)
		return "";
	*slash = '\0';

	re_snprintf(dir, sizeof(dir), "%s/modules", exe);

	return dir;
}


/*
 * The file of a module: in the module directory; when that is the one
 * compiled in (no -m, no module_path) and lacks it, beside the binary
 */
static bool module_file(char *path, size_t size, const char *file)
{
	re_snprintf(path, size, "%s/%s.so", module_dir(), file);
	if (access(path, R_OK) == 0)
		return true;

	if (mods.path || mods.conf_path || !*beside_dir())
		return false;

	re_snprintf(path, size, "%s/%s.so", beside_dir(), file);
	if (access(path, R_OK) == 0)
		return true;

	re_snprintf(path, size, "%s/%s.so", module_dir(), file);

	return false;
}


/* Where modules were looked for, for a message */
static int dirs_print(struct re_printf *pf, void *arg)
{
	(void)arg;

	if (mods.path || mods.conf_path || !*beside_dir())
		return re_hprintf(pf, "%s", module_dir());

	return re_hprintf(pf, "%s or %s", module_dir(), beside_dir());
}


static bool valid_name(const char *name)
{
	const char *p;

	if (!*name)
		return false;

	for (p = name; *p; p++) {
		if (!(isalnum((unsigned char)*p) || *p == '_' || *p == '-'))
			return false;
	}

	return true;
}


static int ref_add(const char *name, const struct config_line *line,
		   bool first)
{
	struct module_ref *ref;
	struct le *le;
	char *p;

	for (le = mods.refs.head; le; le = le->next) {
		ref = le->data;

		if (!str_casecmp(ref->name, name))
			return 0;
	}

	ref = mem_zalloc(sizeof(*ref), ref_destructor);
	if (!ref)
		return ENOMEM;

	if (str_dup(&ref->name, name)) {
		mem_deref(ref);
		return ENOMEM;
	}

	for (p = ref->name; *p; p++) {
		if (*p == '-')
			*p = '_';
	}

	ref->line = line;
	if (first)
		list_prepend(&mods.refs, &ref->le, ref);
	else
		list_append(&mods.refs, &ref->le, ref);

	return 0;
}


static int module_line_handler(const struct config_line *line, void *arg)
{
	bool apply = *(bool *)arg;

	if (!valid_name(line->val))
		return config_fail(line, "'%s' is not a module name",
				   line->val);

	if (!apply) {
		if (!module_available(line->val))
			return config_fail(line, "no module %s.so in %H",
					   line->val, dirs_print, NULL);
		return 0;
	}

	return ref_add(line->val, line, false);
}


/**
 * Check whether a module is loaded or can be
 *
 * @param name Module name ('-' read as '_')
 *
 * @return True if it is loaded or its file is in the module directory
 */
bool module_available(const char *name)
{
	char file[128], path[640];
	struct le *le;
	char *p;

	str_ncpy(file, name, sizeof(file));
	for (p = file; *p; p++) {
		if (*p == '-')
			*p = '_';
	}

	for (le = mods.refs.head; le; le = le->next) {
		const struct module_ref *ref = le->data;

		if (!str_casecmp(ref->name, file))
			return true;
	}

	if (!valid_name(file))
		return false;

	if (builtin_find(file))
		return true;

	return module_file(path, sizeof(path), file);
}


/**
 * Read "module" and "module_path" lines
 *
 * @param apply True to note the modules to load, false to check the
 *              lines (a reload: modules change only at a restart)
 *
 * @return 0 if success, otherwise errorcode
 */
int module_config(bool apply)
{
	char *conf_path = NULL;
	int err;

	err = config_str("module_path", &conf_path);
	if (!err && apply) {
		mem_deref(mods.conf_path);
		mods.conf_path = conf_path;
		conf_path = NULL;
	}
	mem_deref(conf_path);
	if (err)
		return err;

	return config_apply("module", module_line_handler, &apply);
}


/**
 * Add a module that the core loads whatever the configuration, before
 * the others (a "module" line that names it adds nothing)
 *
 * @param name Module name
 *
 * @return 0 if success, otherwise errorcode
 */
int module_add(const char *name)
{
	return ref_add(name, NULL, true);
}


/**
 * Add the modules the roles of the listen lines name, after those of
 * the "module" lines (backends first: roles need them when they start)
 *
 * @param names Role names (struct role_ref) in the order of the lines
 *
 * @return 0 if success, otherwise errorcode
 */
int module_roles_add(const struct list *names)
{
	struct le *le;
	int err = 0;

	for (le = names->head; le && !err; le = le->next) {
		const struct role_ref *n = le->data;

		err = ref_add(n->name, n->line, false);
	}

	return err;
}


/**
 * Add the modules that provide services the roles need, before the
 * others (loaded by the next module_load_all(), unloaded after the
 * roles)
 *
 * @param names Module names (struct role_ref)
 *
 * @return 0 if success, otherwise errorcode
 */
int module_services_add(const struct list *names)
{
	struct le *le;
	int err = 0;

	for (le = names->tail; le && !err; le = le->prev) {
		const struct role_ref *n = le->data;

		err = ref_add(n->name, n->line, true);
	}

	return err;
}


/**
 * Load every module not loaded yet, in order
 *
 * @return 0 if success, otherwise errorcode (reported)
 */
int module_load_all(void)
{
	struct le *le;
	int err = 0;

	for (le = mods.refs.head; le; le = le->next) {
		struct module_ref *ref = le->data;
		const struct mod_export *me = builtin_find(ref->name);
		char path[640];
		int errors;

		if (ref->mod)
			continue;

		if (!me && !module_file(path, sizeof(path), ref->name)) {
			return config_fail(ref->line, "no module %s.so in %H"
					   " (unknown role or module '%s')",
					   ref->name, dirs_print, NULL,
					   ref->name);
		}

		errors = config_errors();
		err = me ? mod_add(&ref->mod, me) : mod_load(&ref->mod, path);
		if (err == ENOENT) {
			return config_fail(ref->line, "no module %s.so in %H"
					   " (unknown role or module '%s')",
					   ref->name, dirs_print, NULL,
					   ref->name);
		}
		else if (err && !ref->line && config_errors() > errors) {
			/* no line to name: the problems of its keys say it */
			return err;
		}
		else if (err) {
			return config_fail(ref->line, "module %s failed to"
					   " start: %m", ref->name, err);
		}

		log_debug("loaded module %s\n", ref->name);
	}

	return 0;
}


/**
 * Unload the modules, last loaded first
 */
void module_unload_all(void)
{
	struct le *le;

	while ((le = mods.refs.tail))
		mem_deref(le->data);

	mods.path = mem_deref(mods.path);
	mods.conf_path = mem_deref(mods.conf_path);
}


/**
 * Check whether a core service has a backend
 *
 * @param name location, account or auth
 *
 * @return True if available
 */
bool service_available(const char *name)
{
	if (!str_casecmp(name, "location"))
		return location_available();
	if (!str_casecmp(name, "account"))
		return account_available();
	if (!str_casecmp(name, "auth"))
		return auth_available();

	return false;
}
