// Command l2sm-cni is the L2S-M CNI plugin as the node sees it: a small static binary that forwards every CNI verb
// (ADD, DEL, CHECK, STATUS, GC) over a root-only unix socket to the node daemon of the switch agent, which does the
// work (veth, OVS port, controller port). It answers VERSION itself, lets the CNI library check the environment and
// the configuration's cniVersion, and returns the daemon's error unchanged; the daemon's result (CNI 1.x) is
// converted by the library to the configuration's version, so 0.3.x/0.4.0 runtimes get their own format.
package main

import (
	"encoding/json"
	"fmt"
	"net"
	"os"
	"time"

	"github.com/containernetworking/cni/pkg/skel"
	"github.com/containernetworking/cni/pkg/types"
	types100 "github.com/containernetworking/cni/pkg/types/100"
	"github.com/containernetworking/cni/pkg/version"
)

const (
	// DefaultSocket is where the switch agent's daemon listens on every node (the chart mounts /run/l2sm).
	DefaultSocket = "/run/l2sm/cni.sock"
	// SocketEnv overrides it, for runtimes that run several nodes on one host (the sandbox).
	SocketEnv = "L2SM_CNI_SOCKET"
	// A runtime waits for the plugin; the daemon's own controller calls time out well before this.
	callTimeout = 55 * time.Second
)

// request is one invocation as the daemon reads it: the CNI_* environment and the configuration, verbatim.
type request struct {
	Command     string `json:"command"`
	ContainerID string `json:"containerID"`
	Netns       string `json:"netns"`
	IfName      string `json:"ifName"`
	Args        string `json:"args"`
	Path        string `json:"path"`
	Config      string `json:"config"`
}

// reply is the daemon's answer: a result (ADD) or the spec's error object.
type reply struct {
	Result json.RawMessage `json:"result,omitempty"`
	Error  *types.Error    `json:"error,omitempty"`
}

func socketPath() string {
	if p := os.Getenv(SocketEnv); p != "" {
		return p
	}
	return DefaultSocket
}

func call(command string, args *skel.CmdArgs) (*reply, error) {
	path := socketPath()
	conn, err := net.DialTimeout("unix", path, 2*time.Second)
	if err != nil {
		return nil, types.NewError(types.ErrTryAgainLater, "the l2sm node daemon is not reachable at "+path,
			err.Error())
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(callTimeout))
	req := request{Command: command, ContainerID: args.ContainerID, Netns: args.Netns, IfName: args.IfName,
		Args: args.Args, Path: args.Path, Config: string(args.StdinData)}
	if err := json.NewEncoder(conn).Encode(&req); err != nil {
		return nil, types.NewError(types.ErrTryAgainLater, "cannot send the request to the l2sm node daemon",
			err.Error())
	}
	var rep reply
	if err := json.NewDecoder(conn).Decode(&rep); err != nil {
		return nil, types.NewError(types.ErrTryAgainLater, "no answer from the l2sm node daemon", err.Error())
	}
	if rep.Error != nil {
		return nil, rep.Error
	}
	return &rep, nil
}

func forward(command string) func(*skel.CmdArgs) error {
	return func(args *skel.CmdArgs) error {
		_, err := call(command, args)
		return err
	}
}

func cmdAdd(args *skel.CmdArgs) error {
	rep, err := call("ADD", args)
	if err != nil {
		return err
	}
	confVersion, err := new(version.ConfigDecoder).Decode(args.StdinData)
	if err != nil {
		return types.NewError(types.ErrDecodingFailure, err.Error(), "")
	}
	result, err := types100.NewResult(rep.Result)
	if err != nil {
		return types.NewError(types.ErrInternal, "the l2sm node daemon returned a malformed result", err.Error())
	}
	return types.PrintResult(result, confVersion)
}

func main() {
	skel.PluginMainFuncs(skel.CNIFuncs{
		Add:    cmdAdd,
		Del:    forward("DEL"),
		Check:  forward("CHECK"),
		Status: forward("STATUS"),
		GC:     forward("GC"),
	}, version.PluginSupports("0.3.0", "0.3.1", "0.4.0", "1.0.0", "1.1.0"),
		fmt.Sprintf("l2sm-cni: L2S-M networks through the node daemon at %s (or $%s)", DefaultSocket, SocketEnv))
}
