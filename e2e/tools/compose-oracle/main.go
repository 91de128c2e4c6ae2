// compose-oracle loads a compose project with compose-spec/compose-go, the loader `docker
// compose config` is built on, and prints the result as one line of JSON:
//
//	{"project": {...}}   the loaded project (compose-go's canonical form: interpolated,
//	                     normalized, every short syntax turned into the long one, env_file
//	                     merged into environment, paths resolved)
//	{"error": "..."}     compose-go refused the project, and why
//
// Usage:
//
//	compose-oracle [--project-directory DIR] [--profile P]... [--var KEY=VALUE]... [--no-dotenv] FILE [OVERRIDE]...
//
// It reads what `docker compose -f FILE config` reads (the files, `.env` in the project
// directory, env_file, extends and include files) and nothing else: not the process
// environment (the comparison must not depend on who runs it), not the network (no remote
// resource loaders, so `extends: {file: remote:...}` and git/oci includes are refused), not
// Docker. Exit status 0 whenever a verdict was printed, 2 on bad usage.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/compose-spec/compose-go/v2/cli"
)

type repeated []string

func (r *repeated) String() string     { return strings.Join(*r, ",") }
func (r *repeated) Set(v string) error { *r = append(*r, v); return nil }

func main() {
	flags := flag.NewFlagSet("compose-oracle", flag.ContinueOnError)
	flags.SetOutput(io.Discard)
	projectDir := flags.String("project-directory", "", "where relative paths start and .env is read (default: the first file's directory)")
	noDotenv := flags.Bool("no-dotenv", false, "do not read .env in the project directory")
	var profiles, variables repeated
	flags.Var(&profiles, "profile", "enable a profile (repeatable)")
	flags.Var(&variables, "var", "a KEY=VALUE interpolation variable, over .env (repeatable)")
	if err := flags.Parse(os.Args[1:]); err != nil || flags.NArg() == 0 {
		fmt.Fprintln(os.Stderr, "usage: compose-oracle [--project-directory DIR] [--profile P]... [--var KEY=VALUE]... [--no-dotenv] FILE [OVERRIDE]...")
		os.Exit(2)
	}
	files := flags.Args()
	dir := *projectDir
	if dir == "" {
		dir = filepath.Dir(files[0])
	}

	options := []cli.ProjectOptionsFn{
		cli.WithWorkingDirectory(dir),
		cli.WithEnv(variables),
		cli.WithProfiles(profiles),
		cli.WithResolvedPaths(true),
		cli.WithDiscardEnvFile,
	}
	if !*noDotenv {
		// .env first, then --var over it: WithDotEnv merges the file under what is already set.
		options = append(options, cli.WithEnvFiles(), cli.WithDotEnv)
	}
	project, err := load(files, options)
	if err != nil {
		emit(map[string]any{"error": err.Error()})
		return
	}
	emit(map[string]any{"project": project})
}

func load(files []string, options []cli.ProjectOptionsFn) (project json.RawMessage, err error) {
	// A loader bug must read as a refusal with its reason, not as a crashed oracle.
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("compose-go panicked: %v", r)
		}
	}()
	opts, err := cli.NewProjectOptions(files, options...)
	if err != nil {
		return nil, err
	}
	loaded, err := opts.LoadProject(context.Background())
	if err != nil {
		return nil, err
	}
	// compose-go v2.16.2 cannot print build.ssh (SSHKey.MarshalJSON writes invalid JSON);
	// nothing compared reads build, so it is dropped rather than turned into a refusal.
	for name, service := range loaded.Services {
		if service.Build != nil {
			service.Build.SSH = nil
			loaded.Services[name] = service
		}
	}
	return loaded.MarshalJSON()
}

func emit(value map[string]any) {
	out, err := json.Marshal(value)
	if err != nil {
		out, _ = json.Marshal(map[string]any{"error": "cannot print the project: " + err.Error()})
	}
	fmt.Println(string(out))
}
