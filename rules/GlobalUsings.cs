// What the agent imports into every rule (sentinel rules init writes this file; keep it as it is).
global using System;
global using System.Collections.Generic;
global using Sentinel.Events;
global using Sentinel.Rules;

// Only for `dotnet build` of this directory, which needs an entry point; the agent never calls it.
internal static class SentinelRulesProject
{
    private static void Main()
    {
    }
}
