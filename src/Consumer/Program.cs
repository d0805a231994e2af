using FlashdutySync;
using FlashdutySync.Check;
using FlashdutySync.Messaging;

if (args is [CheckCommand.Verb, .. var rest]) return await CheckCommand.RunAsync(rest, Console.Out);
if (args is [MigrateQueuesCommand.Verb, .. var migrate]) return await MigrateQueuesCommand.RunAsync(migrate, Console.Out);

var app = ServiceApp.Build(args);
await app.RunAsync();
return 0;
