using Sentinel.ProcessTree;

namespace Sentinel.ProcessTree.Tests;

public class ContainerIdsTests
{
    private const string Id = "4f3c2b1a0e9d8c7b6a5f4e3d2c1b0a9f8e7d6c5b4a3f2e1d0c9b8a7f6e5d4c3b";

    [Theory]
    [InlineData("/system.slice/docker-" + Id + ".scope", ContainerRuntime.Docker)]
    [InlineData("/docker/" + Id, ContainerRuntime.Docker)]
    [InlineData("/docker/" + Id + "/init.scope", ContainerRuntime.Docker)]
    [InlineData("/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod1a2b3c4d_5e6f_7a8b_9c0d_1e2f3a4b5c6d.slice/cri-containerd-" + Id + ".scope", ContainerRuntime.Containerd)]
    [InlineData("/kubepods/burstable/pod1a2b3c4d-5e6f-7a8b-9c0d-1e2f3a4b5c6d/" + Id, ContainerRuntime.Containerd)]
    [InlineData("/system.slice/containerd-" + Id + ".scope", ContainerRuntime.Containerd)]
    [InlineData("/default/" + Id, ContainerRuntime.Containerd)]
    [InlineData("/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-podabc.slice/crio-" + Id + ".scope", ContainerRuntime.CriO)]
    [InlineData("/machine.slice/libpod-" + Id + ".scope", ContainerRuntime.Podman)]
    [InlineData("/machine.slice/libpod-" + Id + ".scope/container", ContainerRuntime.Podman)]
    [InlineData("/user.slice/user-1000.slice/user@1000.service/user.slice/libpod-" + Id + ".scope", ContainerRuntime.Podman)]
    [InlineData("/libpod_parent/libpod-" + Id, ContainerRuntime.Podman)]
    [InlineData("/libpod_parent/" + Id, ContainerRuntime.Podman)]
    public void Finds_the_id_and_runtime(string path, ContainerRuntime runtime)
    {
        Assert.True(ContainerIds.TryParse(path, out var id, out var parsedRuntime));
        Assert.Equal(Id, id.ToString());
        Assert.Equal(runtime, parsedRuntime);
        Assert.Equal(Id, ContainerIds.Parse(path));
    }

    [Theory]
    [InlineData("")]
    [InlineData("/")]
    [InlineData("/user.slice/user-1000.slice/session-3.scope")]
    [InlineData("/system.slice/docker.service")]
    [InlineData("/process_api/e2a67bf0824fa4c5c61108a70f18c87b")] // 32 hex: not a container id
    [InlineData("/system.slice/docker-" + "4F3C2B1A0E9D8C7B6A5F4E3D2C1B0A9F8E7D6C5B4A3F2E1D0C9B8A7F6E5D4C3B" + ".scope")] // runtimes write lower-case
    [InlineData("/machine.slice/libpod-conmon-" + Id + ".scope")] // podman's monitor, not the container
    [InlineData("/kubepods.slice/crio-conmon-" + Id + ".scope")]
    [InlineData("/system.slice/docker-" + Id + "0.scope")] // 65 chars
    public void Names_no_container(string path)
    {
        Assert.False(ContainerIds.TryParse(path, out _, out var runtime));
        Assert.Equal(ContainerRuntime.None, runtime);
        Assert.Equal("", ContainerIds.Parse(path));
    }

    [Fact]
    public void The_innermost_container_wins_when_nested()
    {
        const string inner = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
        Assert.Equal(inner, ContainerIds.Parse("/docker/" + Id + "/docker/" + inner));
    }
}
