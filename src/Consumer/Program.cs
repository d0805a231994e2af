using FlashdutySync;
using FlashdutySync.Check;
using FlashdutySync.Messaging;
using FlashdutySync.Reconcile;

if (args is [CheckCommand.Verb, .. var rest]) return await CheckCommand.RunAsync(rest, Console.Out);
if (args is [ReconcileCommand.Verb, .. var options]) return await ReconcileCommand.RunAsync(options, Console.Out, Console.Error);
if (args is [MigrateQueuesCommand.Verb, .. var migrate]) return await MigrateQueuesCommand.RunAsync(migrate, Console.Out);

var app = ServiceApp.Build(args);
await app.RunAsync();
return 0;
