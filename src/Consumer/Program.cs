using FlashdutySync;
using FlashdutySync.Check;

if (args is [CheckCommand.Verb, .. var rest]) return await CheckCommand.RunAsync(rest, Console.Out);

var app = ServiceApp.Build(args);
await app.RunAsync();
return 0;
