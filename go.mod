module github.com/calico-vpp/calico-vpp

go 1.26

require (
	github.com/sirupsen/logrus v1.9.3
	github.com/vishvananda/netlink v1.3.1
	github.com/vishvananda/netns v0.0.5
	go.fd.io/govpp v0.13.0
	golang.org/x/sync v0.17.0
)

require (
	github.com/fsnotify/fsnotify v1.9.0 // indirect
	github.com/lunixbochs/struc v0.0.0-20200521075829-a4cb8d33dbbe // indirect
	golang.org/x/sys v0.35.0 // indirect
)
