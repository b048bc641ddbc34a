package main

import (
	"os"
	"os/user"

	"github.com/stackctl/stackctl/rotate/plan"
)

// provenance names who runs this command, for the labels of every version
// it creates: the repository, workflow, run, commit and actor under
// GitHub Actions (the variables a runner sets: docs.github.com, "Store
// information in variables", default environment variables), user@host
// elsewhere.
func provenance(getenv func(string) string) map[string]string {
	if repo := getenv("GITHUB_REPOSITORY"); getenv("GITHUB_ACTIONS") == "true" && repo != "" {
		labels := map[string]string{plan.LabelCreatedBy: "github:" + repo}
		server := getenv("GITHUB_SERVER_URL")
		if server == "" {
			server = "https://github.com"
		}
		if id := getenv("GITHUB_RUN_ID"); id != "" {
			run := server + "/" + repo + "/actions/runs/" + id
			if a := getenv("GITHUB_RUN_ATTEMPT"); a != "" {
				run += "/attempts/" + a
			}
			labels[plan.LabelCIRun] = run
		}
		for label, env := range map[string]string{plan.LabelCIWorkflow: "GITHUB_WORKFLOW", plan.LabelCICommit: "GITHUB_SHA", plan.LabelCIActor: "GITHUB_ACTOR"} {
			if v := getenv(env); v != "" {
				labels[label] = v
			}
		}
		return labels
	}
	name := getenv("USER")
	if u, err := user.Current(); err == nil {
		name = u.Username
	}
	host, _ := os.Hostname()
	return map[string]string{plan.LabelCreatedBy: name + "@" + host}
}
