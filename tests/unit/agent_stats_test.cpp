// The pure pieces of the stats, metrics and events verbs: /proc/net/dev and memory.stat parsing,
// the CPU rate kept per object, the cadvisor-like metrics and the event bus's bounded queues.
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <fstream>

#include "peapod/agent/events.h"
#include "peapod/agent/stats.h"
#include "peapod/runtime/cgroup.h"
#include "support/temp_dir.h"

namespace peapod::agent {
namespace {

constexpr char kNetDev[] =
    "Inter-|   Receive                                                |  Transmit\n"
    " face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs "
    "drop fifo colls carrier compressed\n"
    "    lo:     840      10    0    0    0     0          0         0      840      10    0 "
    "   0    0     0       0          0\n"
    "  eth0:12345678901   20    3    0    0     0          0         0     5678      30    4 "
    "   0    0     0       0          0\n"
    "  net1: 100 1 0 0 0 0 0 0 200 2 0 0 0 0 0 0\n"
    "broken: 1 2 3\n";

TEST(ParseNetDev, ReadsBytesAndErrorsOfEveryInterfaceEvenWithoutASpaceAfterTheColon) {
  auto ifaces = ParseNetDev(kNetDev);
  ASSERT_EQ(ifaces.size(), 3u);
  EXPECT_EQ(ifaces[0].name, "lo");
  EXPECT_EQ(ifaces[1].name, "eth0");
  EXPECT_EQ(ifaces[1].rx_bytes, 12345678901u);
  EXPECT_EQ(ifaces[1].rx_errors, 3u);
  EXPECT_EQ(ifaces[1].tx_bytes, 5678u);
  EXPECT_EQ(ifaces[1].tx_errors, 4u);
  EXPECT_EQ(ifaces[2].name, "net1");
  EXPECT_EQ(ifaces[2].tx_bytes, 200u);
}

TEST(NetworkUsageOf, PutsEth0AsTheDefaultAndLeavesLoopbackOut) {
  auto usage = NetworkUsageOf(ParseNetDev(kNetDev), 42);
  EXPECT_EQ(usage.timestamp, 42);
  ASSERT_TRUE(usage.default_interface);
  EXPECT_EQ(usage.default_interface->name, "eth0");
  ASSERT_EQ(usage.interfaces.size(), 1u);
  EXPECT_EQ(usage.interfaces[0].name, "net1");
}

TEST(CpuRateTracker, ComputesNanoCoresFromTwoSamplesAndStartsAtZero) {
  CpuRateTracker rates;
  EXPECT_EQ(rates.Update("c", 1'000'000'000, 5'000'000'000), 0u);
  // 1.5 s of CPU in 2 s of wall time: 0.75 cores.
  EXPECT_EQ(rates.Update("c", 3'000'000'000, 6'500'000'000), 750'000'000u);
  // Same timestamp: the last rate again, no division by zero.
  EXPECT_EQ(rates.Update("c", 3'000'000'000, 6'500'000'000), 750'000'000u);
  // Objects are independent.
  EXPECT_EQ(rates.Update("d", 3'000'000'000, 1), 0u);
}

TEST(CpuRateTracker, ACounterThatWentBackwardsRestartsAtZero) {
  CpuRateTracker rates;
  rates.Update("c", 1'000'000'000, 9'000'000'000);
  EXPECT_EQ(rates.Update("c", 2'000'000'000, 100), 0u);
  EXPECT_EQ(rates.Update("c", 3'000'000'000, 500'000'100), 500'000'000u);
  rates.ForgetAllBut({});
  EXPECT_EQ(rates.Update("c", 4'000'000'000, 900'000'000), 0u);
}

TEST(FillMemoryStats, V2WorkingSetIsCurrentMinusInactiveFileWithLimitAndFaults) {
  runtime::CgroupStats s;
  runtime::FillMemoryStats(runtime::CgroupVersion::kV2, "10000000\n",
                           "anon 6000000\nfile 4000000\ninactive_file 3000000\n"
                           "pgfault 1234\npgmajfault 5\n",
                           "20000000\n", s);
  EXPECT_EQ(s.memory_usage_bytes, 10000000u);
  EXPECT_EQ(s.memory_working_set_bytes, 7000000u);
  EXPECT_EQ(s.memory_rss_bytes, 6000000u);
  EXPECT_EQ(s.memory_page_faults, 1234u);
  EXPECT_EQ(s.memory_major_page_faults, 5u);
  EXPECT_EQ(s.memory_limit_bytes, 20000000u);
}

TEST(FillMemoryStats, V1UsesTheHierarchicalTotalsAndTreatsTheHugeLimitAsUnlimited) {
  runtime::CgroupStats s;
  runtime::FillMemoryStats(runtime::CgroupVersion::kV1, "8192\n",
                           "rss 1\ninactive_file 1\ntotal_rss 4096\ntotal_inactive_file 10000\n"
                           "total_pgfault 7\ntotal_pgmajfault 2\n",
                           "9223372036854771712\n", s);
  EXPECT_EQ(s.memory_working_set_bytes, 0u);  // never negative
  EXPECT_EQ(s.memory_rss_bytes, 4096u);
  EXPECT_EQ(s.memory_page_faults, 7u);
  EXPECT_EQ(s.memory_major_page_faults, 2u);
  EXPECT_FALSE(s.memory_limit_bytes);
  runtime::CgroupStats v2;
  runtime::FillMemoryStats(runtime::CgroupVersion::kV2, "1", "", "max\n", v2);
  EXPECT_FALSE(v2.memory_limit_bytes);
  EXPECT_FALSE(v2.memory_working_set_bytes);  // no memory.stat, no working set
}

TEST(MemoryUsageOf, AvailableBytesOnlyUnderALimit) {
  runtime::CgroupStats s;
  s.memory_usage_bytes = 100;
  s.memory_working_set_bytes = 60;
  EXPECT_FALSE(MemoryUsageOf(s, 1)->available_bytes);
  s.memory_limit_bytes = 1000;
  EXPECT_EQ(MemoryUsageOf(s, 1)->available_bytes, 940u);
}

TEST(MeasureDirUsage, CountsBlocksAndInodesAndHardLinksOnce) {
  peapod::testing::TempDir dir;
  {
    std::ofstream f(dir.path() + "/a");
    f << std::string(64 * 1024, 'x');
  }
  ASSERT_EQ(::link((dir.path() + "/a").c_str(), (dir.path() + "/b").c_str()), 0);
  auto usage = MeasureDirUsage(dir.path());
  ASSERT_TRUE(usage);
  EXPECT_EQ(usage->inodes, 2u);  // the dir and one file
  EXPECT_GE(usage->bytes, 64u * 1024);
  EXPECT_LT(usage->bytes, 2u * 64 * 1024 + 64 * 1024);
  EXPECT_FALSE(MeasureDirUsage(dir.path() + "/missing"));
}

TEST(MetricsOf, LabelsFollowTheDescriptorsAndTypesFollowCadvisor) {
  PodSandboxStats stats;
  stats.attributes.id = "pod1";
  stats.attributes.metadata.name = "web";
  stats.attributes.metadata.namespace_ = "ns";
  NetworkUsage network;
  NetworkInterfaceUsage eth0;
  eth0.name = "eth0";
  eth0.rx_bytes = 10;
  network.default_interface = eth0;
  stats.network = network;
  ContainerStats c;
  c.attributes.id = "c1";
  c.attributes.metadata.name = "app";
  CpuUsage cpu;
  cpu.usage_core_nano_seconds = 3'500'000'000;
  c.cpu = cpu;
  MemoryUsage memory;
  memory.working_set_bytes = 4096;
  c.memory = memory;
  stats.containers.push_back(c);

  auto metrics = MetricsOf(stats, {{"c1", "busybox:latest"}});
  const auto& descriptors = MetricDescriptors();
  auto descriptor = [&](const std::string& name) {
    auto it = std::find_if(descriptors.begin(), descriptors.end(),
                           [&](const MetricDescriptor& d) { return d.name == name; });
    EXPECT_NE(it, descriptors.end()) << name;
    return *it;
  };
  ASSERT_EQ(metrics.pod_sandbox_id, "pod1");
  ASSERT_EQ(metrics.metrics.size(), 4u);  // rx/tx bytes and errors of eth0
  for (const auto& m : metrics.metrics) {
    EXPECT_EQ(m.type, MetricType::kCounter);
    EXPECT_EQ(m.label_values.size(), descriptor(m.name).label_keys.size());
    EXPECT_EQ(m.label_values.back(), "eth0");
  }
  ASSERT_EQ(metrics.container_metrics.size(), 1u);
  const auto& cm = metrics.container_metrics[0];
  ASSERT_EQ(cm.metrics.size(), 2u);
  for (const auto& m : cm.metrics) {
    auto keys = descriptor(m.name).label_keys;
    ASSERT_EQ(m.label_values.size(), keys.size());
    for (size_t i = 0; i < keys.size(); ++i) {
      if (keys[i] == "image") {
        EXPECT_EQ(m.label_values[i], "busybox:latest");
      }
      if (keys[i] == "pod") {
        EXPECT_EQ(m.label_values[i], "web");
      }
      if (keys[i] == "container") {
        EXPECT_EQ(m.label_values[i], "app");
      }
    }
    if (m.name == "container_cpu_usage_seconds_total") {
      EXPECT_EQ(m.type, MetricType::kCounter);
      EXPECT_EQ(m.value, 3u);
    } else {
      EXPECT_EQ(m.name, "container_memory_working_set_bytes");
      EXPECT_EQ(m.type, MetricType::kGauge);
      EXPECT_EQ(m.value, 4096u);
    }
  }
}

TEST(EventBus, DeliversInOrderAndDropsASubscriberWhoseQueueIsFull) {
  EventBus bus(2);
  EXPECT_FALSE(bus.HasSubscribers());
  auto fast = bus.Subscribe();
  auto slow = bus.Subscribe();
  EXPECT_TRUE(bus.HasSubscribers());
  ContainerEvent event;
  ContainerEvent got;
  for (int i = 0; i < 3; ++i) {
    event.container_id = "c" + std::to_string(i);
    bus.Publish(event);  // never blocks, even with `slow` not reading
    ASSERT_EQ(fast->Next(&got, std::chrono::milliseconds(0)), EventSubscription::Wait::kEvent);
    EXPECT_EQ(got.container_id, event.container_id);
  }
  EXPECT_EQ(slow->Next(&got, std::chrono::milliseconds(0)), EventSubscription::Wait::kDropped);
  EXPECT_EQ(fast->Next(&got, std::chrono::milliseconds(0)), EventSubscription::Wait::kTimeout);
  fast.reset();
  slow.reset();
  EXPECT_FALSE(bus.HasSubscribers());
}

TEST(ParsePressure, ReadsSomeAndFullWithEveryAverageAndTheTotal) {
  auto psi = runtime::ParsePressure(
      "some avg10=1.50 avg60=0.25 avg300=0.00 total=123456\n"
      "full avg10=0.10 avg60=0.00 avg300=0.00 total=99\n");
  ASSERT_TRUE(psi);
  EXPECT_DOUBLE_EQ(psi->some.avg10, 1.5);
  EXPECT_DOUBLE_EQ(psi->some.avg60, 0.25);
  EXPECT_EQ(psi->some.total_us, 123456u);
  ASSERT_TRUE(psi->full);
  EXPECT_DOUBLE_EQ(psi->full->avg10, 0.1);
  EXPECT_EQ(psi->full->total_us, 99u);
}

TEST(ParsePressure, AFileWithoutAFullLineHasNoFullAndBadTextIsNoFigures) {
  auto some_only = runtime::ParsePressure("some avg10=0.00 avg60=0.00 avg300=0.00 total=7\n");
  ASSERT_TRUE(some_only);
  EXPECT_FALSE(some_only->full);
  EXPECT_EQ(some_only->some.total_us, 7u);
  // Keys a later kernel may add are skipped; missing or malformed figures are not guessed.
  EXPECT_TRUE(runtime::ParsePressure("some avg10=0 avg60=0 avg300=0 total=1 new=3\n"));
  EXPECT_FALSE(runtime::ParsePressure(""));
  EXPECT_FALSE(runtime::ParsePressure("some avg10=0.00 avg60=0.00 total=1\n"));
  EXPECT_FALSE(runtime::ParsePressure("some avg10=x avg60=0.00 avg300=0.00 total=1\n"));
  EXPECT_FALSE(runtime::ParsePressure("some avg10=0 avg60=0 avg300=0 total=-1\n"));
  EXPECT_FALSE(
      runtime::ParsePressure("some avg10=0 avg60=0 avg300=0 total=1\nfull avg10=0 total=1\n"));
}

TEST(IoUsageOf, OnlyWhereTheCgroupHasIoPressure) {
  runtime::CgroupStats stats;
  EXPECT_FALSE(IoUsageOf(stats, 5));
  stats.io_pressure = runtime::PsiStats{{42, 1.0, 2.0, 3.0}, std::nullopt};
  auto io = IoUsageOf(stats, 5);
  ASSERT_TRUE(io);
  EXPECT_EQ(io->timestamp, 5);
  EXPECT_EQ(io->psi.some.total_us, 42u);
}

}  // namespace
}  // namespace peapod::agent
