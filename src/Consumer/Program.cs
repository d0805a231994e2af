using FlashdutySync;

var app = ServiceApp.Build(args);
app.Run();
