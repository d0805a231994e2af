# syntax=docker/dockerfile:1
# Multi-stage build of the service (default target) and the simulator (target "simulator").
#   docker build -t flashduty-mapping-sync .
#   docker build --target simulator -t flashduty-simulator .
FROM mcr.microsoft.com/dotnet/sdk:10.0 AS build
WORKDIR /src
# Restore first, from the project files only, so that the layer is cached until a dependency changes.
COPY Directory.Build.props Directory.Packages.props .editorconfig ./
COPY contracts/Inventory.Contracts.csproj contracts/
COPY src/Consumer/Consumer.csproj src/Consumer/
COPY src/Flashduty.Simulator/Flashduty.Simulator.csproj src/Flashduty.Simulator/
COPY src/Publisher/Publisher.csproj src/Publisher/
RUN dotnet restore src/Consumer/Consumer.csproj \
 && dotnet restore src/Flashduty.Simulator/Flashduty.Simulator.csproj \
 && dotnet restore src/Publisher/Publisher.csproj
COPY contracts/ contracts/
COPY src/ src/
RUN dotnet publish src/Consumer/Consumer.csproj -c Release --no-restore -o /out/consumer \
 && dotnet publish src/Flashduty.Simulator/Flashduty.Simulator.csproj -c Release --no-restore -o /out/simulator \
 && dotnet publish src/Publisher/Publisher.csproj -c Release --no-restore -o /out/publisher

FROM mcr.microsoft.com/dotnet/aspnet:10.0 AS simulator
WORKDIR /app
COPY --from=build /out/simulator .
USER $APP_UID
EXPOSE 5080
ENTRYPOINT ["dotnet", "Flashduty.Simulator.dll", "--urls", "http://0.0.0.0:5080"]

FROM mcr.microsoft.com/dotnet/aspnet:10.0 AS publisher
WORKDIR /app
COPY --from=build /out/publisher .
USER $APP_UID
ENTRYPOINT ["dotnet", "Publisher.dll"]

FROM mcr.microsoft.com/dotnet/aspnet:10.0 AS service
WORKDIR /app
COPY --from=build /out/consumer .
# The image's non-root user (uid 1654).
USER $APP_UID
ENV Health__Port=8080
EXPOSE 8080
ENTRYPOINT ["dotnet", "Consumer.dll"]
