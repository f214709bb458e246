package httpapi

import (
	"errors"
	"net/http"
	"strconv"

	"github.com/ihr-go/ihr/pkg/apierr"
	"github.com/ihr-go/ihr/pkg/authn"
	"github.com/ihr-go/ihr/services/auth/internal/app"
)

type credentials struct {
	Email    string `json:"email"`
	Password string `json:"password"`
}

type codeBody struct {
	Code string `json:"code"`
}

type passwordBody struct {
	Password string `json:"password"`
}

var accepted = map[string]string{"status": "accepted"}

func (a *API) register(r *http.Request, actor app.Actor) (answer, error) {
	var b credentials
	if err := decode(r, &b); err != nil {
		return answer{}, err
	}
	return answer{http.StatusAccepted, map[string]string{"status": "accepted",
		"message": "If the address can be used, a confirmation link was mailed to it"}}, a.App.Register(r.Context(), actor, b.Email, b.Password)
}

func (a *API) confirm(r *http.Request, actor app.Actor) (answer, error) {
	var b codeBody
	if err := decode(r, &b); err != nil {
		return answer{}, err
	}
	u, err := a.App.Confirm(r.Context(), actor, b.Code)
	return answer{http.StatusOK, u}, err
}

func (a *API) login(r *http.Request, actor app.Actor) (answer, error) {
	var b credentials
	if err := decode(r, &b); err != nil {
		return answer{}, err
	}
	t, err := a.App.Login(r.Context(), actor, b.Email, b.Password)
	return answer{http.StatusOK, t}, err
}

func (a *API) refresh(r *http.Request, actor app.Actor) (answer, error) {
	var b struct {
		RefreshToken string `json:"refresh_token"`
	}
	if err := decode(r, &b); err != nil {
		return answer{}, err
	}
	t, err := a.App.Refresh(r.Context(), actor, b.RefreshToken)
	return answer{http.StatusOK, t}, err
}

func (a *API) logout(r *http.Request, actor app.Actor) (answer, error) {
	return answer{status: http.StatusNoContent}, a.App.Logout(r.Context(), actor)
}

func (a *API) forgot(r *http.Request, actor app.Actor) (answer, error) {
	var b struct {
		Email string `json:"email"`
	}
	if err := decode(r, &b); err != nil {
		return answer{}, err
	}
	return answer{http.StatusAccepted, map[string]string{"status": "accepted",
		"message": "If an account uses this address, a reset link was mailed to it"}}, a.App.ForgotPassword(r.Context(), actor, b.Email)
}

func (a *API) reset(r *http.Request, actor app.Actor) (answer, error) {
	var b struct {
		Code     string `json:"code"`
		Password string `json:"password"`
	}
	if err := decode(r, &b); err != nil {
		return answer{}, err
	}
	return answer{status: http.StatusNoContent}, a.App.ResetPassword(r.Context(), actor, b.Code, b.Password)
}

func (a *API) me(r *http.Request, actor app.Actor) (answer, error) {
	p, err := a.App.Me(r.Context(), actor)
	return answer{http.StatusOK, p}, err
}

func (a *API) deleteMe(r *http.Request, actor app.Actor) (answer, error) {
	var b passwordBody
	if err := decode(r, &b); err != nil {
		return answer{}, err
	}
	return answer{status: http.StatusNoContent}, a.App.DeleteAccount(r.Context(), actor, b.Password)
}

func (a *API) changePassword(r *http.Request, actor app.Actor) (answer, error) {
	var b struct {
		Current  string `json:"current_password"`
		Password string `json:"new_password"`
	}
	if err := decode(r, &b); err != nil {
		return answer{}, err
	}
	t, err := a.App.ChangePassword(r.Context(), actor, b.Current, b.Password)
	return answer{http.StatusOK, t}, err
}

func (a *API) changeEmail(r *http.Request, actor app.Actor) (answer, error) {
	var b struct {
		Password string `json:"password"`
		Email    string `json:"new_email"`
	}
	if err := decode(r, &b); err != nil {
		return answer{}, err
	}
	return answer{http.StatusAccepted, accepted}, a.App.RequestEmailChange(r.Context(), actor, b.Password, b.Email)
}

func (a *API) confirmEmail(r *http.Request, actor app.Actor) (answer, error) {
	var b codeBody
	if err := decode(r, &b); err != nil {
		return answer{}, err
	}
	u, err := a.App.ConfirmEmail(r.Context(), actor, b.Code)
	return answer{http.StatusOK, u}, err
}

func (a *API) setMonitored(r *http.Request, actor app.Actor) (answer, error) {
	var b struct {
		Monitored []struct {
			ASN         *int64 `json:"asn"`
			NotifyLevel *int   `json:"notify_level"`
		} `json:"monitored_asns"`
	}
	if err := decode(r, &b); err != nil {
		return answer{}, err
	}
	if b.Monitored == nil {
		return answer{}, apierr.New(apierr.Invalid, "invalid_body", "monitored_asns is required (an empty list clears it)")
	}
	set := make([]app.Monitored, len(b.Monitored))
	for i, m := range b.Monitored {
		if m.ASN == nil {
			return answer{}, apierr.New(apierr.Invalid, "invalid_body", "Each monitored network has an asn")
		}
		level := 10 // the legacy default: high
		if m.NotifyLevel != nil {
			level = *m.NotifyLevel
		}
		set[i] = app.Monitored{ASN: *m.ASN, NotifyLevel: level}
	}
	got, err := a.App.SetMonitored(r.Context(), actor, set)
	return answer{http.StatusOK, map[string]any{"monitored_asns": got}}, err
}

func (a *API) listUsers(r *http.Request, _ app.Actor) (answer, error) {
	q := r.URL.Query()
	f := app.UserFilter{Role: authn.Role(q.Get("role")), Status: q.Get("status"), Email: q.Get("email")}
	if v := q.Get("after"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 0 {
			return answer{}, apierr.New(apierr.Invalid, "invalid_after", "after is an account id")
		}
		f.After = n
	}
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			return answer{}, apierr.New(apierr.Invalid, "invalid_limit", "limit is a positive number")
		}
		f.Limit = n
	}
	users, err := a.App.ListUsers(r.Context(), f)
	return answer{http.StatusOK, map[string]any{"count": len(users), "results": users}}, err
}

func (a *API) user(r *http.Request, _ app.Actor) (answer, error) {
	id, err := pathID(r)
	if err != nil {
		return answer{}, err
	}
	u, err := a.App.User(r.Context(), id)
	return answer{http.StatusOK, u}, err
}

func (a *API) updateUser(r *http.Request, actor app.Actor) (answer, error) {
	id, err := pathID(r)
	if err != nil {
		return answer{}, err
	}
	var c app.AccountChange
	if err := decode(r, &c); err != nil {
		return answer{}, err
	}
	u, err := a.App.UpdateUser(r.Context(), actor, id, c)
	return answer{http.StatusOK, u}, err
}

func (a *API) listKeys(r *http.Request, actor app.Actor) (answer, error) {
	var user int64
	switch v := r.URL.Query().Get("user"); v {
	case "":
	case "all":
		user = -1
	default:
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n <= 0 {
			return answer{}, apierr.New(apierr.Invalid, "invalid_user", "user is an account id or all")
		}
		user = n
	}
	keys, err := a.App.APIKeys(r.Context(), actor, user)
	return answer{http.StatusOK, map[string]any{"results": keys}}, err
}

func (a *API) createKey(r *http.Request, actor app.Actor) (answer, error) {
	var req app.KeyRequest
	if err := decode(r, &req); err != nil {
		return answer{}, err
	}
	k, err := a.App.CreateAPIKey(r.Context(), actor, req)
	return answer{http.StatusCreated, k}, err
}

func (a *API) revokeKey(r *http.Request, actor app.Actor) (answer, error) {
	return answer{status: http.StatusNoContent}, a.App.RevokeAPIKey(r.Context(), actor, r.PathValue("id"))
}

func (a *API) listClients(r *http.Request, _ app.Actor) (answer, error) {
	c, err := a.App.Clients(r.Context())
	return answer{http.StatusOK, map[string]any{"results": c}}, err
}

func (a *API) createClient(r *http.Request, actor app.Actor) (answer, error) {
	var req app.KeyRequest
	if err := decode(r, &req); err != nil {
		return answer{}, err
	}
	c, err := a.App.CreateClient(r.Context(), actor, req)
	return answer{http.StatusCreated, c}, err
}

func (a *API) revokeClient(r *http.Request, actor app.Actor) (answer, error) {
	return answer{status: http.StatusNoContent}, a.App.RevokeClient(r.Context(), actor, r.PathValue("id"))
}

func (a *API) rotate(r *http.Request, actor app.Actor) (answer, error) {
	kid, err := a.App.RotateSigningKey(r.Context(), actor)
	return answer{http.StatusCreated, map[string]string{"kid": kid}}, err
}

func (a *API) jwks(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Cache-Control", "public, max-age=300")
	writeJSON(w, http.StatusOK, a.JWKS())
}

// oauthFail writes an error of RFC 6749 §5.2 (401 and a Basic challenge
// for a client that failed to authenticate).
func (a *API) oauthFail(w http.ResponseWriter, r *http.Request, err error) {
	e := apierr.From(err)
	if e.Kind == apierr.Internal || e.Kind == apierr.RateLimited || e.Kind == apierr.Unavailable {
		a.fail(w, r, err)
		return
	}
	if e.Code == "invalid_client" {
		w.Header().Set("WWW-Authenticate", `Basic realm="ihr"`)
	}
	e.Body = map[string]string{"error": e.Code, "error_description": e.Message}
	apierr.Write(w, e)
}

// form parses a form body (application/x-www-form-urlencoded), bounded.
func form(w http.ResponseWriter, r *http.Request) error {
	r.Body = http.MaxBytesReader(w, r.Body, maxBody)
	if err := r.ParseForm(); err != nil {
		return apierr.New(apierr.Invalid, "invalid_request", "The body is an application/x-www-form-urlencoded form")
	}
	return nil
}

func (a *API) token(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Pragma", "no-cache")
	if err := form(w, r); err != nil {
		a.oauthFail(w, r, err)
		return
	}
	req := app.TokenRequest{GrantType: r.PostForm.Get("grant_type"), Username: r.PostForm.Get("username"), Password: r.PostForm.Get("password"),
		RefreshToken: r.PostForm.Get("refresh_token"), Scope: r.PostForm.Get("scope"),
		ClientID: r.PostForm.Get("client_id"), ClientSecret: r.PostForm.Get("client_secret")}
	if id, secret, ok := r.BasicAuth(); ok {
		req.ClientID, req.ClientSecret = id, secret
	}
	t, err := a.App.Token(r.Context(), actorOf(r), req)
	if err != nil {
		a.oauthFail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, t)
}

func (a *API) revoke(w http.ResponseWriter, r *http.Request) {
	if err := form(w, r); err != nil {
		a.oauthFail(w, r, err)
		return
	}
	if err := a.App.RevokeToken(r.Context(), actorOf(r), r.PostForm.Get("token")); err != nil {
		a.oauthFail(w, r, err)
		return
	}
	w.WriteHeader(http.StatusOK)
}

func (a *API) introspect(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	if err := form(w, r); err != nil {
		a.oauthFail(w, r, err)
		return
	}
	res, err := a.App.Introspect(r.Context(), r.PostForm.Get("token"))
	if err != nil {
		a.oauthFail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, res)
}

// verifyKey is the internal API key check of the gateway and the services.
func (a *API) verifyKey(w http.ResponseWriter, r *http.Request) {
	var b struct {
		Key string `json:"key"`
	}
	if err := decode(r, &b); err != nil {
		a.fail(w, r, err)
		return
	}
	p, err := a.App.VerifyAPIKey(r.Context(), b.Key)
	var e *apierr.Error
	switch {
	case err == nil:
		writeJSON(w, http.StatusOK, p)
	case errors.As(err, &e):
		a.fail(w, r, err)
	case errors.Is(err, app.ErrUnknownKey):
		// The gateway and the services then refuse every key of this id a while.
		w.Header().Set("WWW-Authenticate", `Bearer realm="ihr", error="invalid_token"`)
		apierr.Write(w, apierr.New(apierr.Unauthenticated, authn.UnknownKeyCode, err.Error()))
	case errors.Is(err, app.ErrKey):
		authn.Unauthorized(w, true, err.Error())
	default:
		a.fail(w, r, err)
	}
}
