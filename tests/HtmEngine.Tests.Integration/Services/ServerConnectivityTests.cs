using System.Text;
using MySqlConnector;
using RabbitMQ.Client;

namespace HtmEngine.Tests.Integration.Services;

public class ServerConnectivityTests
{
    [ServerFact(TestServer.MariaDb)]
    public async Task MariaDB_from_the_test_configuration_answers_a_query()
    {
        var repository = TestServers.Options.Repository;
        var builder = new MySqlConnectionStringBuilder
        {
            Server = repository.Host,
            Port = (uint)repository.Port,
            UserID = repository.User,
            Password = repository.Password,
            Database = repository.Database,
        };
        await using var connection = new MySqlConnection(builder.ConnectionString);
        await connection.OpenAsync();
        await using var command = new MySqlCommand("SELECT VERSION(), DATABASE()", connection);
        await using var reader = await command.ExecuteReaderAsync();
        Assert.True(await reader.ReadAsync());
        Assert.Contains("MariaDB", reader.GetString(0), StringComparison.Ordinal);
        Assert.Equal(repository.Database, reader.GetString(1));
    }

    [ServerFact(TestServer.RabbitMq)]
    public async Task RabbitMQ_from_the_test_configuration_round_trips_a_message()
    {
        var bus = TestServers.Options.Bus;
        var factory = new ConnectionFactory
        {
            HostName = bus.Host,
            Port = bus.Port,
            VirtualHost = bus.VirtualHost,
            UserName = bus.User,
            Password = bus.Password,
        };
        await using var connection = await factory.CreateConnectionAsync();
        await using var channel = await connection.CreateChannelAsync();

        // Server-named, exclusive, auto-delete: nothing is left behind on the shared broker.
        var queue = await channel.QueueDeclareAsync();
        var body = Encoding.UTF8.GetBytes("foo.bar.stats 21 1443197361");
        await channel.BasicPublishAsync(string.Empty, queue.QueueName, mandatory: true, new BasicProperties(), body);

        BasicGetResult? message = null;
        for (int attempt = 0; attempt < 50 && message is null; attempt++)
        {
            message = await channel.BasicGetAsync(queue.QueueName, autoAck: true);
            if (message is null)
            {
                await Task.Delay(20);
            }
        }

        Assert.NotNull(message);
        Assert.Equal(body, message.Body.ToArray());
    }
}
