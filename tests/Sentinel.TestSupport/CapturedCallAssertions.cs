using Sentinel.Events;
using Xunit;

namespace Sentinel.TestSupport;

/// <summary>What a captured event must say about a helper's call, shared by the host's and the guest's capture tests.</summary>
public static class CapturedCallAssertions
{
    private const ulong PageSize = 4096;

    /// <summary>move_pages32's three-page query: the compat flag, and its 32-bit pointers widened, a page apart.</summary>
    public static void IsCompatQueryOfThreePages(MovePagesHelper.Call call, MovePagesEvent evt)
    {
        Assert.True(evt.Compat);
        Assert.Equal("move_pages32", evt.Comm);
        Assert.Equal(call.PagesAddress, evt.PagesAddress);
        Assert.Equal(3UL, evt.Count);
        Assert.Equal(call.Ret, evt.ReturnValue);
        Assert.Equal(call.Status, evt.Status.ToArray());
        var pages = evt.PagesAtEntry.ToArray();
        Assert.Equal(3, pages.Length);
        Assert.All(pages, p => Assert.InRange(p, 1UL, uint.MaxValue));
        Assert.Equal(PageSize, pages[1] - pages[0]);
    }
}
