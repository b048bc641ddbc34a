package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"
)

// githubAPI opens pull requests through GitHub's REST API, as GitHub
// Actions describes it in the environment.
type githubAPI struct {
	url, repo, token string
	client           *http.Client
}

// githubFromEnv reads GITHUB_REPOSITORY and GITHUB_TOKEN (and
// GITHUB_API_URL, for GitHub Enterprise Server).
func githubFromEnv(getenv func(string) string) (githubAPI, error) {
	g := githubAPI{url: getenv("GITHUB_API_URL"), repo: getenv("GITHUB_REPOSITORY"), token: getenv("GITHUB_TOKEN"),
		client: &http.Client{Timeout: 30 * time.Second}}
	if g.repo == "" || g.token == "" {
		return g, errors.New("--pull-request opens the pull request through the GitHub API: set GITHUB_REPOSITORY (owner/name) and GITHUB_TOKEN (a token that may push and open pull requests); in GitHub Actions the stackctl action sets both")
	}
	if g.url == "" {
		g.url = "https://api.github.com"
	}
	return g, nil
}

// newPull is the body of POST /repos/{owner}/{repo}/pulls.
type newPull struct {
	Title string `json:"title"`
	Head  string `json:"head"`
	Base  string `json:"base"`
	Body  string `json:"body"`
}

type pull struct {
	Number  int    `json:"number"`
	HTMLURL string `json:"html_url"`
}

func (g githubAPI) createPull(ctx context.Context, p newPull) (pull, error) {
	body, err := json.Marshal(p)
	if err != nil {
		return pull{}, err
	}
	url := strings.TrimSuffix(g.url, "/") + "/repos/" + g.repo + "/pulls"
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return pull{}, err
	}
	req.Header.Set("Authorization", "Bearer "+g.token)
	req.Header.Set("Accept", "application/vnd.github+json")
	req.Header.Set("X-GitHub-Api-Version", "2022-11-28")
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "stackctl")
	resp, err := g.client.Do(req)
	if err != nil {
		return pull{}, err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return pull{}, err
	}
	if resp.StatusCode != http.StatusCreated {
		return pull{}, fmt.Errorf("POST %s: %s%s", url, resp.Status, githubMessage(data))
	}
	var out pull
	if err := json.Unmarshal(data, &out); err != nil {
		return pull{}, fmt.Errorf("POST %s: the answer is not a pull request: %w", url, err)
	}
	return out, nil
}

// githubMessage is what GitHub says went wrong, from an error's body.
func githubMessage(data []byte) string {
	var e struct {
		Message string
		Errors  []struct{ Message string }
	}
	if json.Unmarshal(data, &e) != nil || e.Message == "" {
		return ""
	}
	msg := ": " + e.Message
	for _, x := range e.Errors {
		if x.Message != "" {
			msg += "; " + x.Message
		}
	}
	return msg
}
