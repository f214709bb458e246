package main

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/base64"
	"flag"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/ihr-go/ihr/pkg/authn"
	"github.com/ihr-go/ihr/services/ihrctl/internal/accounts"
)

func usersCmd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	return dispatch(ctx, "ihrctl users", map[string]command{
		"create":        {"make an active account (the first admin): EMAIL [--role R] [--password-stdin]", usersCreate},
		"set-role":      {"give an account another role: EMAIL ROLE", usersChange("role")},
		"disable":       {"disable an account: EMAIL", usersChange("disabled")},
		"enable":        {"enable a disabled account: EMAIL", usersChange("active")},
		"import-legacy": {"import the legacy Django accounts and monitored networks [--dry-run]", usersImport},
	}, args, stdout, stderr)
}

func usersCreate(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("users create EMAIL [--role user|pipeline|admin] [--password-stdin]",
		"Makes an active account straight in the database: the way to the first admin. Without\n"+
			"--password-stdin a random password is printed once.", stderr)
	conn := addConnFlags(fs, true)
	role := fs.String("role", "user", "user, pipeline or admin")
	fromStdin := fs.Bool("password-stdin", false, "read the password from the first line of standard input")
	pos, err := positionals(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		fs.Usage()
		return fmt.Errorf("users create EMAIL: one address")
	}
	email := pos[0]
	password := ""
	if *fromStdin {
		line, err := bufio.NewReader(os.Stdin).ReadString('\n')
		if err != nil && err != io.EOF {
			return err
		}
		password = strings.TrimRight(line, "\r\n")
	} else {
		var b [18]byte
		_, _ = rand.Read(b[:])
		password = base64.RawURLEncoding.EncodeToString(b[:])
	}
	db, err := conn.connectDB(ctx)
	if err != nil {
		return err
	}
	defer db.Close(context.WithoutCancel(ctx))
	id, err := accounts.Create(ctx, db, email, password, authn.Role(*role))
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "account %d: %s, role %s\n", id, email, *role)
	if !*fromStdin {
		fmt.Fprintf(stdout, "password (shown once): %s\n", password)
	}
	return nil
}

// usersChange sets a role (what "role") or a status.
func usersChange(what string) func(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	return func(ctx context.Context, args []string, stdout, stderr io.Writer) error {
		synopsis := "users " + map[string]string{"role": "set-role EMAIL ROLE", "disabled": "disable EMAIL", "active": "enable EMAIL"}[what]
		fs := newFlagSet(synopsis, "Changes the account in the database and publishes the revocation of its access tokens\n"+
			"(they carry the old role); without NATS they live until they expire (IHR_AUTH_ACCESS_TTL).", stderr)
		conn := addConnFlags(fs, true)
		pos, err := positionals(fs, args)
		if err != nil {
			return err
		}
		want := 1
		if what == "role" {
			want = 2
		}
		if len(pos) != want {
			fs.Usage()
			return fmt.Errorf("%s", synopsis)
		}
		var role authn.Role
		status := what
		if what == "role" {
			role, status = authn.Role(pos[1]), ""
		}
		db, err := conn.connectDB(ctx)
		if err != nil {
			return err
		}
		defer db.Close(context.WithoutCancel(ctx))
		id, version, err := accounts.Change(ctx, db, pos[0], role, status)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "account %d changed\n", id)
		bus, err := conn.connectNATS(ctx, stderr)
		if err == nil {
			defer bus.Close()
			err = authn.Publish(ctx, bus, authn.Revocation{Schema: authn.SchemaRevoked, Kind: "user", ID: strconv.FormatInt(id, 10),
				Version: version, At: time.Now().UTC()})
		}
		if err != nil {
			fmt.Fprintf(stderr, "warning: the revocation was not published (%v): its access tokens live until they expire\n", err)
		}
		return nil
	}
}

func usersImport(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("users import-legacy [--dry-run]",
		"Copies the accounts of the legacy Django tables (ihr_ihruser, ihr_monitoredasn) into the auth\n"+
			"service's, in one transaction. Passwords keep their Django hash until the first login\n"+
			"re-hashes them; superusers become admins; inactive accounts stay pending. Accounts\n"+
			"imported before, or whose address is taken, are skipped: it can run again.", stderr)
	conn := addConnFlags(fs, true)
	dry := fs.Bool("dry-run", false, "count what would be imported, change nothing")
	if err := fs.Parse(args); err != nil {
		return err
	}
	db, err := conn.connectDB(ctx)
	if err != nil {
		return err
	}
	defer db.Close(context.WithoutCancel(ctx))
	r, err := accounts.ImportLegacy(ctx, db, *dry)
	if err != nil {
		return err
	}
	if !r.Legacy {
		fmt.Fprintln(stdout, "no legacy tables (ihr_ihruser, ihr_monitoredasn): nothing to import")
		return nil
	}
	verb := "imported"
	if *dry {
		verb = "would import"
	}
	fmt.Fprintf(stdout, "%s %d accounts (%d admins) and %d monitored networks; %d accounts skipped (imported before or address taken)\n",
		verb, r.Users, r.Admins, r.Monitored, r.Skipped)
	return nil
}

// positionals parses fs from args, whose positional arguments may come
// before the flags as well as after them.
func positionals(fs *flag.FlagSet, args []string) ([]string, error) {
	var lead []string
	for len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		lead, args = append(lead, args[0]), args[1:]
	}
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	return append(lead, fs.Args()...), nil
}
